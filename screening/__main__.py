"""`python -m screening check|batch|views ...`: the screening CLI (see screening/core/cli.py)."""

import os
import sys

# One BLAS thread per process, set before numpy loads OpenBLAS (which reads it once; spawned
# workers inherit it). OpenBLAS otherwise starts a thread per core in every worker: the pool
# already gives each core a worker, and each BLAS call then waited for a thread that another
# worker's core had to run, or spun waiting for work. bench/screening.py's 12 files, `batch`
# on both cores, three runs each way alternately (load 4-5 of other work): 4.4-4.5 s of user
# time where 2 threads took 4.8-4.9, 5.2-5.3 s of wall time where they took 5.6-5.8. No value
# changes: of what screening asks of BLAS (single-precision dot products, the colour fit's
# and the covariance's matrix products, the luma's matrix-vector products) this OpenBLAS
# splits nothing over threads in a way that moves a bit (checked 1 against 2 threads: the 182
# gate correlations of the checked sets and every CLI line of them are the same); it splits
# the sums of double-precision dot products of more than 10 000 values, which screening takes
# none of.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from screening.core.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
