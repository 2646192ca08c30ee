"""Charge-point simulator (OCPP 1.6J, 2.0.1, 2.1) and the load generator used by bench/.

It is a client only and shares no code with Ampyre's server side, so it can be
pointed at any CSMS.
"""

from ampyre.simulator.runner import (
    SimulationReport,
    add_cli_arguments,
    main_from_args,
    run_simulation,
)

__all__ = ["SimulationReport", "add_cli_arguments", "main_from_args", "run_simulation"]
