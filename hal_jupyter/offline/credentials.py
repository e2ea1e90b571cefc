"""The credentials the emulators accept, and the providers are given in tests.

They are canaries: after the whole suite has run, ``tests/test_secrets.py``
searches the logs, HTTP bodies, notebook outputs and widget state of the run
for them, and none may appear.
"""

AWS_ACCESS_KEY_ID = "AKIAHALCANARY0000001"  # an id, not a secret: it travels in every signed request
AWS_SECRET_ACCESS_KEY = "hal-canary-aws-secret-6c1f0d9e"
IBM_CLOUD_API_KEY = "hal-canary-ibm-apikey-3b7a52c1"
AZURE_FUNCTIONS_KEY = "hal-canary-azfunc-key-9e04d7aa"
AZURE_QUANTUM_API_KEY = "hal-canary-azq-apikey-51c8b6f2"

#: every secret above
SECRETS = (AWS_SECRET_ACCESS_KEY, IBM_CLOUD_API_KEY, AZURE_FUNCTIONS_KEY, AZURE_QUANTUM_API_KEY)
