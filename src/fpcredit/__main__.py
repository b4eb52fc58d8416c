"""`python -m fpcredit` runs the command line."""

from fpcredit.cli import main

main()
