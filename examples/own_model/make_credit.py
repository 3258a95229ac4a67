"""Your own tabular model, trained the ordinary way, for the README's walkthrough.

Writes OUT/credit.csv (a credit data set with a ``split`` column: the rows the model was trained
on, the rows kept for testing, and rows it never saw) and OUT/credit.skops (a scikit-learn
``Pipeline`` of a ``ColumnTransformer`` and gradient boosting, fit on the raw columns of the
train rows, without the sensitive column ``sex``).

    python examples/own_model/make_credit.py --out mine
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("mine"))
    parser.add_argument("--rows", type=int, default=1500)
    args = parser.parse_args()
    g = np.random.default_rng(7)
    n = args.rows
    frame = pd.DataFrame(
        {
            "age": g.integers(18, 80, n),
            "amount": g.gamma(2.0, 1500.0, n).round(2),
            "duration_months": g.integers(6, 72, n),
            "purpose": g.choice(["car", "education", "house", "other"], n),
            "housing": g.choice(["own", "rent", "free"], n),
            "sex": g.choice(["female", "male"], n),
        }
    )
    score = (
        (frame["age"] - 40) / 15
        - frame["amount"] / 3000
        - frame["duration_months"] / 40
        + frame["purpose"].map({"car": 0.5, "education": -0.3, "house": 1.0, "other": 0.0})
        + (frame["housing"] == "own") * 0.8
    )
    frame["risk"] = np.where(score + 0.6 + g.normal(0, 0.8, n) > 0, "good", "bad")
    frame["split"] = g.choice(["train", "test", "holdout"], n, p=[0.6, 0.2, 0.2])

    columns = ["age", "amount", "duration_months", "purpose", "housing"]
    model = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [
                        ("numbers", StandardScaler(), ["age", "amount", "duration_months"]),
                        (
                            "categories",
                            OneHotEncoder(handle_unknown="ignore"),
                            ["purpose", "housing"],
                        ),
                    ]
                ),
            ),
            ("boost", GradientBoostingClassifier(n_estimators=80, random_state=0)),
        ]
    )
    train, test = frame[frame["split"] == "train"], frame[frame["split"] == "test"]
    model.fit(train[columns], train["risk"])
    args.out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out / "credit.csv", index=False)
    sio.dump(model, args.out / "credit.skops")
    print(
        f"wrote {args.out / 'credit.csv'} ({n} rows) and {args.out / 'credit.skops'}; "
        f"the model's own test accuracy: {model.score(test[columns], test['risk']):.3f}"
    )


if __name__ == "__main__":
    main()
