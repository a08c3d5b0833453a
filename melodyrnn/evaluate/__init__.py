"""Evaluation: held-out likelihood against n-gram and PPM baselines, musical metrics of melody
sets, originality (copies of the training set), and plots."""
