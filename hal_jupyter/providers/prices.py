"""What the clouds charge: every provider's prices, as data, each with its source
and the date it was checked.

Prices move; keeping them here, beside the page each came from, makes them one
place to check and update. The providers compute their estimates (and, where
the service reports what a job ran, its actual cost) from these numbers; the
``*_SOURCE`` strings go into each estimate's ``basis``, so a user sees where a
number came from. Local simulators and self-hosted runs are free and have no
entry.
"""

from __future__ import annotations

# -- Amazon Braket: https://aws.amazon.com/braket/pricing/, checked 2026-11 -----------------------
# QPUs: a fee per task plus a price per shot. On-demand simulators: per minute of a task's
# execution, billed per millisecond with a minimum of 3 seconds per task. In a reservation
# (Braket Direct) the device is billed by the hour, and its tasks carry no per-task or
# per-shot fee.
BRAKET_SOURCE = "Amazon Braket pricing (aws.amazon.com/braket/pricing, 2026-11)"
BRAKET_TASK_FEE = 0.30
#: USD per shot, by the device's provider/name in its ARN
BRAKET_PER_SHOT = {"ionq/forte": 0.08, "ionq/aria": 0.03, "iqm/garnet": 0.00145, "rigetti/ankaa": 0.0009, "quera/aquila": 0.01}
#: USD per minute of an on-demand simulator's execution
BRAKET_SIMULATOR_PER_MIN = {"amazon/sv1": 0.075, "amazon/dm1": 0.075, "amazon/tn1": 0.275}
#: the least a simulator task is billed for, in milliseconds
BRAKET_SIMULATOR_MINIMUM_MS = 3000
BRAKET_RESERVATION_BASIS = "in a reservation: no per-task or per-shot fees (the reservation is billed by the hour, separately)"

# -- Azure Quantum: https://learn.microsoft.com/azure/quantum/pricing, checked 2026-11 -------------
# IonQ (pay-as-you-go): a price per 1-qubit-gate-shot and per 2-qubit-gate-shot, at least
# m per job, m = $12.4166 ($97.50 with error mitigation); the estimates add m (an upper bound).
# Quantinuum: H-System Quantum Credits, HQC = 5 + shots x (N1q + 10 N2q + 5 Nmeas) / 5000.
# Simulators are free.
AZURE_QUANTUM_SOURCE = "Azure Quantum pricing (learn.microsoft.com/azure/quantum/pricing, 2026-11)"
IONQ_MINIMUM = 12.4166
IONQ_MINIMUM_ERROR_MITIGATION = 97.50
IONQ_PER_1Q_GATE_SHOT = 0.000220
IONQ_PER_2Q_GATE_SHOT = 0.000975
#: Quantinuum HQC = BASE + shots x (N1q + PER_2Q N2q + PER_MEASURE Nmeas) / PER_SHOTS
QUANTINUUM_HQC_BASE = 5.0
QUANTINUUM_HQC_PER_2Q = 10
QUANTINUUM_HQC_PER_MEASURE = 5
QUANTINUUM_HQC_PER_SHOTS = 5000

# -- IBM Quantum Platform: https://www.ibm.com/quantum/pricing, checked 2026-11 ---------------------
# Pay-As-You-Go plan: $96 per minute of quantum time. Quantum time per runtime job is
# estimated as ~2 s of fixed overhead plus ~300 us per shot of each circuit.
IBM_QUANTUM_PRICE_PER_S = 96.0 / 60
IBM_QUANTUM_FIXED_S = 2.0
IBM_QUANTUM_PER_SHOT_S = 0.0003
IBM_QUANTUM_SOURCE = "IBM Quantum Pay-As-You-Go $96/min, ~2 s + 300 us/shot per job (ibm.com/quantum/pricing, 2026-11)"

# -- AWS Lambda: https://aws.amazon.com/lambda/pricing/, us-east-1, x86, checked 2026-11 ------------
AWS_LAMBDA_SOURCE = "AWS price list, 2026-11"
AWS_LAMBDA_PER_REQUEST = 0.20 / 1_000_000
AWS_LAMBDA_PER_GB_S = 0.0000166667

# -- Azure Functions: https://azure.microsoft.com/pricing/details/functions/, Consumption plan, 2026-11
AZURE_FUNCTIONS_SOURCE = "Azure Functions Consumption price list, 2026-11"
AZURE_FUNCTIONS_PER_EXECUTION = 0.20 / 1_000_000
AZURE_FUNCTIONS_PER_GB_S = 0.000016

# -- IBM Cloud Functions: its last price list (2023; the service is closed) -------------------------
# Self-hosted OpenWhisk costs what its host costs.
IBM_CLOUD_FUNCTIONS_SOURCE = "IBM Cloud Functions' 2023 price"
IBM_CLOUD_FUNCTIONS_PER_GB_S = 0.000017

# -- IBM Code Engine: https://www.ibm.com/cloud/code-engine/pricing, checked 2026-11 ---------------
IBM_CODE_ENGINE_SOURCE = "IBM Code Engine price list, 2026-11"
IBM_CODE_ENGINE_PER_VCPU_S = 0.00003420
IBM_CODE_ENGINE_PER_GB_S = 0.00000356
