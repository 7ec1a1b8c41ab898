"""The label schema shared by every stage: 0 = negative, 1 = positive."""

ID2LABEL = {0: "negative", 1: "positive"}
LABEL2ID = {name: i for i, name in ID2LABEL.items()}
