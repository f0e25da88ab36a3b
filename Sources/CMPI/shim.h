#pragma once
#include <mpi.h>
// Open MPI's handles and MPI_IN_PLACE are macros that Swift cannot import.
static inline MPI_Comm simply_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype simply_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype simply_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype simply_mpi_int(void) { return MPI_INT; }
static inline MPI_Op simply_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op simply_mpi_max(void) { return MPI_MAX; }
static inline void *simply_mpi_in_place(void) { return MPI_IN_PLACE; }
