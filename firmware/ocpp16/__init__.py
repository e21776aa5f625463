# OCPP-J 1.6 protocol core for the charge point (package `ocpp16`, never `ocpp`,
# so it cannot shadow the Mobility House `ocpp` package the host tests use).
# Nothing in this package does I/O or reads a clock; keep this file empty.
