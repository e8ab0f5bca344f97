"""Starts Jupyter Server in a notebook sandbox, made non-dumpable first.

The kernel runs as the same user as its server. A dumpable server could be taken over by kernel
code (ptrace, /proc/PID/mem, pidfd_getfd on its socket to the service); a non-dumpable process
can be none of these to a process without privileges. Kernels the server starts are exec'd, so
they are dumpable again, as nothing of theirs needs protecting.

    python3 assay_server.py ARGS...   (the arguments of jupyter-server)
"""
import ctypes
import sys

PR_SET_DUMPABLE = 4


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        sys.exit('assay_server: could not make the server non-dumpable (errno %d)' % ctypes.get_errno())
    from jupyter_server.serverapp import main as serve

    sys.argv[0] = 'jupyter-server'
    sys.exit(serve())


if __name__ == '__main__':
    main()
