"""`benchmark perf`: the suite's own speed, measured side by side in one process.

Each figure times the code a real run executes (the training loop's step, the dataset and mask
pool, the metrics, the evaluation loop), so a regression anywhere in the suite shows up here.
"""
