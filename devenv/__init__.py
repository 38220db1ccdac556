"""The Python that tests, benchmarks and the demo share to run the system on one machine: tool paths,
processes, a Kubernetes control plane, PostgreSQL, loop-mounted filesystems, the one launcher of the emulator
and the one of the operator, the local environment and the demo."""
