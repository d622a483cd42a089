"""What Airflow's providers manager learns about this provider.

Imports nothing from Airflow: the providers manager calls this while it
scans installed packages.
"""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """The provider's description (Airflow's `provider_info.schema.json`)."""
    return {
        # Must equal the distribution's name, or Airflow refuses the provider.
        "package-name": "weir",
        "name": "Weir",
        "description": "Run Weir pipeline steps (sandboxed WebAssembly transforms over staged NDJSON) "
        "for a task's data interval.",
        "integrations": [
            {
                "integration-name": "Weir",
                "tags": ["software"],
            }
        ],
        "operators": [
            {
                "integration-name": "Weir",
                "python-modules": ["weir.airflow.operator"],
            }
        ],
    }
