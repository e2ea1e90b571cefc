"""The IBM Cloud instances of the local IBM Quantum Platform (:mod:`.ibm_quantum`), and the
instance lookup the SDK makes even when given a CRN (``POST /global-search/v3/resources/search``,
``GET /global-catalog/{plan}``).

:data:`CRN` is an instance of the Pay-As-You-Go plan; :data:`OPEN_CRN` one of the Open
Plan, on which IBM refuses dedicated sessions (:mod:`.ibm_sessions`). A request names its
instance in the ``Service-CRN`` header (``QISKIT_IBM_INSTANCE`` for the SDK).
"""

from __future__ import annotations

from typing import Any

CRN = "crn:v1:bluemix:public:quantum-computing:us-east:a/0000000000000000000000000000hal0:00000000-0000-0000-0000-000000000001::"
PLAN_ID = "hal-offline-payg-plan"
#: a second instance, of the Open Plan: no dedicated sessions
OPEN_CRN = CRN.replace("000000000001::", "000000000002::")
OPEN_PLAN_ID = "hal-offline-open-plan"
#: plan id -> (name, display name, pricing type), as the global catalog answers
PLANS = {PLAN_ID: ("pay-as-you-go", "Pay-As-You-Go", "paygo"), OPEN_PLAN_ID: ("open", "Open", "free")}
INSTANCES = ((CRN, "hal-offline", PLAN_ID), (OPEN_CRN, "hal-offline-open", OPEN_PLAN_ID))


def search(backends: Any) -> dict[str, Any]:
    """The global search's answer: both instances, each with the backends served."""
    items = [{"crn": crn, "name": name, "service_plan_unique_id": plan, "tags": [],
              "doc": {"extensions": {"quantum": {"backends": list(backends)}}}}
             for crn, name, plan in INSTANCES]
    return {"items": items, "limit": 100}


def catalog(plan: str) -> dict[str, Any] | None:
    """The global catalog's entry of a plan (None: not found)."""
    if plan not in PLANS:
        return None
    name, display, pricing = PLANS[plan]
    return {"id": plan, "name": name, "overview_ui": {"en": {"display_name": display}}, "metadata": {"pricing": {"type": pricing}}}


__all__ = ["CRN", "OPEN_CRN", "OPEN_PLAN_ID", "PLAN_ID", "catalog", "search"]
