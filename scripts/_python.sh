# Sourced by the scripts, from the checkout's root: the Python they run is $PYTHON, else the
# checkout's .venv, else python3 (or python) from PATH (a lent machine's copy has no .venv).
python=${PYTHON:-}
if [ -z "$python" ]; then
  if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=$(command -v python3 || command -v python); fi
fi
