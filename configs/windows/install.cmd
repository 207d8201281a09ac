@echo off
rem hostpatrol agent for Windows: install from the wheels beside this file (no network).
rem Run from an elevated prompt. Needs 64-bit Python 3.11, 3.12 or 3.13 installed: the
rem one named by HOSTPATROL_PYTHON (full path of python.exe), else the py launcher, else
rem python.exe on PATH.
rem   install.cmd
rem       install the agent only; enroll and register the task yourself (see below)
rem   install.cmd --server URL --token TOKEN --fingerprint sha256:HEX
rem       install, enroll with those arguments and register the scheduled task
setlocal
set "HERE=%~dp0"
set "DEST=%ProgramFiles%\hostpatrol"
set "DATA=%ProgramData%\hostpatrol"
set "PY="
if defined HOSTPATROL_PYTHON set "PY="%HOSTPATROL_PYTHON%""
if not defined PY where py >nul 2>nul && set "PY=py -3"
if not defined PY where python >nul 2>nul && set "PY=python"
if not defined PY (
  echo error: no Python found; install 64-bit Python 3.11 or newer first
  exit /b 1
)
%PY% -c "import struct, sys; sys.exit(0 if sys.version_info >= (3, 11) and struct.calcsize('P') == 8 else 1)"
if errorlevel 1 (
  echo error: hostpatrol needs 64-bit Python 3.11 or newer
  exit /b 1
)
%PY% -m venv "%DEST%\venv" || exit /b 1
"%DEST%\venv\Scripts\python.exe" -m pip install --no-index --find-links "%HERE%wheels" --upgrade hostpatrol || exit /b 1
set "AGENT=%DEST%\venv\Scripts\hostpatrol-agent.exe"
if not exist "%DATA%" mkdir "%DATA%"
rem Config, key and spool: SYSTEM and Administrators only (well-known SIDs, any language).
icacls "%DATA%" /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F /T >nul || exit /b 1
if "%~1"=="" goto next
"%AGENT%" enroll %* || exit /b 1
"%AGENT%" install --windows || exit /b 1
echo installed and enrolled: "%AGENT%"
exit /b 0
:next
echo installed: "%AGENT%"
echo next, from this elevated prompt:
echo   "%AGENT%" enroll --server URL --token TOKEN --fingerprint sha256:HEX
echo   "%AGENT%" install --windows
exit /b 0
