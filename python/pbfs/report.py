"""`pbfs report TRACE [--out DIR]` (run as `python3 -m pbfs.report`): plots and a short summary of one
trace; see pbfs.analysis.report. Exit codes: 0 ok, 1 the trace records a failed check, 2 bad input.
"""

import sys

from .analysis.report import main

if __name__ == "__main__":
    sys.exit(main())
