"""`toolkit sweep`: hyperparameter search over a recipe with Optuna.

space.py reads and checks the search-space file, study.py runs the trials (each a normal run
folder) in a resumable Optuna study, report.py writes results.csv, the figure and best_recipe.yaml.
Optuna is an optional dependency (``pip install 'toolkit[sweep]'``), imported only when a sweep runs.
"""
