#!/bin/sh
# tests/mpi/mpirun.sh ARGS... — OpenMPI's mpirun with the switches a test (or
# a one-machine run) needs here, in one place:
#   --oversubscribe     more ranks than cores/slots is allowed (2 ranks on a
#                       2-core machine that also runs other jobs)
#   --bind-to none      each rank runs its own thread pool (COCONUT_THREADS);
#                       OpenMPI's default for <= 2 ranks binds a rank to one
#                       core, which would serialise a rank's threads
#   --allow-run-as-root when run as root (containers, CI): OpenMPI refuses
#                       root otherwise
#   -x COCONUT_THREADS  the thread count reaches remote ranks too (local ranks
#                       inherit the whole environment anyway)
# Shared memory (btl vader) is used between local ranks; set
# OMPI_MCA_btl_vader_single_copy_mechanism=none if a container forbids the
# cross-memory-attach calls (it was not needed on the test machine).
# Exit status: mpirun's (the first failing rank's exit status, or 127 when
# mpirun is missing).
command -v mpirun >/dev/null 2>&1 || { echo "mpirun not found (Debian: apt-get install openmpi-bin)" >&2; exit 127; }
root=
[ "$(id -u)" = 0 ] && root=--allow-run-as-root
export COCONUT_THREADS=${COCONUT_THREADS:-1}
exec mpirun --oversubscribe --bind-to none $root -x COCONUT_THREADS "$@"
