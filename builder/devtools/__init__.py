"""Tools for trying the system locally: the simulated fleet, the demo and the rehearsal."""
