"""firewall: the check and pure parsers of nftables, iptables, ufw, firewalld, Windows, macOS.
May import ..base and the agent's commands.
"""
