import os

# PyTorch's OpenMP threads spin while they wait; with several test processes sharing two cores
# that spinning multiplies run times. Passive waiting must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
