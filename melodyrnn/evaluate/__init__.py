"""Evaluation: held-out likelihood against n-gram and PPM baselines, musical and form metrics of
melody sets, a classifier test of whether samples can be told from real tunes, originality
(copies of the training set), and plots."""
