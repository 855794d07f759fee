"""scikit-learn's HistGradientBoostingClassifier on the churn features that
bench/predict_bench.c wrote (same rows, same train/test split, the same
hyper-parameters as tessera's defaults where they exist): test AUC, training
time, scoring time for NSCORE rows. Usage: churn_sklearn.py FEATURES.csv NSCORE"""
import sys
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

path, nscore = sys.argv[1], int(sys.argv[2])
data = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float64)
x, y, test = data[:, :-2], data[:, -2].astype(int), data[:, -1] == 1
clf = HistGradientBoostingClassifier(
    learning_rate=0.1, max_iter=500, max_depth=4, early_stopping=True,
    validation_fraction=0.2, n_iter_no_change=30, random_state=42)
t0 = time.perf_counter()
clf.fit(x[~test], y[~test])
t_train = time.perf_counter() - t0
auc = roc_auc_score(y[test], clf.predict_proba(x[test])[:, 1])
xs = np.resize(x[~test], (nscore, x.shape[1]))
t0 = time.perf_counter()
clf.predict_proba(xs)
t_score = time.perf_counter() - t0
print(f"sk_rounds {clf.n_iter_}\nsk_train_s {t_train:.3f}\nsk_auc {auc:.5f}\nsk_score_s {t_score:.3f}")
