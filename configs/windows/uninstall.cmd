@echo off
rem Remove the hostpatrol agent: its scheduled task and program. Run from an elevated prompt.
rem   uninstall.cmd        keep %ProgramData%\hostpatrol (key, spool, config)
rem   uninstall.cmd /all   remove it too; deliver or export spooled reports first:
rem                        "%ProgramFiles%\hostpatrol\venv\Scripts\hostpatrol-agent.exe" export FILE
setlocal
set "DEST=%ProgramFiles%\hostpatrol"
set "AGENT=%DEST%\venv\Scripts\hostpatrol-agent.exe"
if exist "%AGENT%" (
  "%AGENT%" install --windows --remove
) else (
  schtasks /Delete /TN hostpatrol-agent /F
)
if exist "%DEST%" rmdir /s /q "%DEST%"
if /i "%~1"=="/all" if exist "%ProgramData%\hostpatrol" rmdir /s /q "%ProgramData%\hostpatrol"
echo hostpatrol agent removed
exit /b 0
