"""Training: `MelodyLightningModule` (loss, metrics, clipping, truncated BPTT).

The network is `models.network.MelodyLSTM`; this module wraps it for Lightning in the manner of
Lightning's `demos/lstm.py`. The LightningCLI behind `melodyrnn fit` is in `fit/cli.py`:

    melodyrnn fit --config configs/tiny.yaml --data.path corpora/folk
    python -m melodyrnn fit --config configs/folk.yaml --data.path DIR --trainer.devices 2

Metrics, logged per epoch for stage in train/val/test (sums over all target tokens, reduced
over processes, so they do not depend on batch sizes):

- `{stage}_loss`: cross-entropy in nats per token;
- `{stage}_ppl`: perplexity, exp(loss);
- `{stage}_bpn`: bits per note, the sequence's total nats / ln 2 / number of notes, where a note
  is a target token whose name starts with "Pitch_" or "NoteOn_" (every token of a note, such
  as its duration, is charged to the note);
- `{stage}_acc`: share of targets that are the model's most likely next token.

Also `train_loss_step` (under DDP the mean over processes, so the divergence guard of every
process decides alike) and `train_grad_norm` (total L2 norm of the gradients before clipping,
after DDP averaged them) every optimizer step, and `lr` per epoch.

A run writes to `{trainer.default_root_dir}/{run_name}/version_N/` (default `runs/default/...`):
config.yaml, hparams.yaml, metrics.csv, TensorBoard events and checkpoints/ (best-*.ckpt and
last.ckpt, the state after the latest epoch or interruption). `--ckpt_path last` resumes the
newest version of the run name that has a last.ckpt, logging into that same version (see
`fit/runs.py`).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor

from melodyrnn._version import __version__
from melodyrnn.errors import ConfigError
from melodyrnn.fit.tbptt import common_length, truncated_bptt
from melodyrnn.models.bundle import load_weights_into
from melodyrnn.models.likelihood import Likelihood
from melodyrnn.models.lookback import check_lookback_tokenizer
from melodyrnn.models.network import Cell, Input, MelodyLSTM, NetworkConfig

NOTE_PREFIXES = ("Pitch_", "NoteOn_")


class MelodyLightningModule(L.LightningModule):
    """`MelodyLSTM` trained as a next-token language model on melody token windows."""

    is_note: Tensor  # (V,) bool buffer: which token ids start a note

    def __init__(
        self,
        vocab_size: int,
        # The network's options, with NetworkConfig's defaults (LightningCLI reads them here).
        pad_id: int = NetworkConfig.pad_id,
        cell: Cell = NetworkConfig.cell,
        input: Input = NetworkConfig.input,  # the flag is --model.input
        embedding_dim: int = NetworkConfig.embedding_dim,
        hidden_size: int = NetworkConfig.hidden_size,
        num_layers: int = NetworkConfig.num_layers,
        dropout: float = NetworkConfig.dropout,
        tie_weights: bool = NetworkConfig.tie_weights,
        lookback: bool = NetworkConfig.lookback,
        attention: int = NetworkConfig.attention,
        optimizer: Literal["adam", "adamw", "sgd"] = "adam",
        lr: float = 2e-3,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        lr_schedule: Literal["none", "cosine", "plateau"] = "none",
        warmup_steps: int = 0,
        min_lr: float = 0.0,
        plateau_factor: float = 0.5,
        plateau_patience: int = 2,
        tbptt_steps: int = 0,
        tbptt_k2: int = 0,
        grad_clip_norm: float = 0.0,
        grad_clip_value: float = 0.0,
        init_from: str | None = None,
        tokenizer: dict[str, Any] | None = None,
        dataset_info: dict[str, Any] | None = None,
    ) -> None:
        """Build the network and remember every option in the checkpoint.

        Args:
            vocab_size: Number of token ids (linked from the data module).
            pad_id: Id of the PAD token, ignored by the loss (linked from the data module).
            cell: Recurrent cell: lstm, gru or rnn (tanh).
            input: Token input: a learned embedding, or one-hot vectors of vocab_size.
            embedding_dim: Size of the token embedding (input embedding only).
            hidden_size: Units per recurrent layer.
            num_layers: Stacked recurrent layers.
            dropout: Dropout on embeddings, between layers and before the decoder.
            tie_weights: Share embedding and decoder weights (needs embedding_dim == hidden_size).
            lookback: Magenta's Lookback RNN inputs: position in the bar, the tokens that came
                next one and two bars earlier, repeat flags (needs a tokenizer with meter tokens).
            attention: Magenta's Attention RNN: the top layer attends over its last this many
                outputs (a window in tokens, Magenta uses 40); 0 = off.
            optimizer: adam, adamw or sgd.
            lr: Peak learning rate.
            weight_decay: L2 penalty (adam, sgd) or decoupled weight decay (adamw).
            momentum: Momentum for sgd.
            lr_schedule: none, cosine (per step down to min_lr) or plateau (halve on flat val_loss).
            warmup_steps: Linear warm-up steps for the none and cosine schedules.
            min_lr: Lowest learning rate of the cosine and plateau schedules.
            plateau_factor: Factor applied to the learning rate when val_loss stops improving.
            plateau_patience: Epochs without val_loss improvement before the plateau schedule acts.
            tbptt_steps: Truncated BPTT k1: one update every k1 steps of a window, carrying the
                detached state; 0 backpropagates through the whole window.
            tbptt_k2: Truncated BPTT k2: each update backpropagates through its last k2 steps
                (at least tbptt_steps; 0 = tbptt_steps, one chunk); see `fit/tbptt.py`.
            grad_clip_norm: Rescale gradients whose total L2 norm exceeds this (0 = off).
            grad_clip_value: Clamp each gradient element to +-this (0 = off).
            init_from: Checkpoint or bundle whose weights start training (fine-tuning).
            tokenizer: The dataset's tokenizer JSON (linked), kept so a checkpoint can sample.
            dataset_info: The dataset's manifest and split sizes (linked), kept as provenance.
        """
        super().__init__()
        _check_training_options(optimizer, lr, weight_decay, lr_schedule, warmup_steps,
                                tbptt_steps, tbptt_k2, grad_clip_norm, grad_clip_value,
                                tokenizer, vocab_size)
        self.save_hyperparameters()  # into the checkpoint; the code reads the attributes below
        self.net = MelodyLSTM(NetworkConfig(
            vocab_size, cell=cell, input=input, embedding_dim=embedding_dim,
            hidden_size=hidden_size, num_layers=num_layers, dropout=dropout,
            tie_weights=tie_weights, pad_id=pad_id, lookback=lookback, attention=attention))
        if lookback and tokenizer is not None:
            check_lookback_tokenizer(str(tokenizer.get("name")), tokenizer.get("options") or {})
        self.pad_id = pad_id
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.lr_schedule = lr_schedule
        self.warmup_steps = warmup_steps
        self.min_lr = min_lr
        self.plateau_factor = plateau_factor
        self.plateau_patience = plateau_patience
        self.tbptt_steps = tbptt_steps
        self.tbptt_k2 = tbptt_k2 or tbptt_steps
        self.grad_clip_norm = grad_clip_norm
        self.grad_clip_value = grad_clip_value
        self.init_from = init_from
        self.tokenizer = tokenizer
        self.dataset_info = dataset_info
        # Truncated BPTT steps the optimizer several times per batch, which Lightning's automatic
        # optimization cannot; full BPTT keeps it (and with it accumulate_grad_batches).
        self.automatic_optimization = tbptt_steps == 0
        vocab = tokenizer["vocab"] if tokenizer else []
        is_note = torch.tensor([t.startswith(NOTE_PREFIXES) for t in vocab] or [False] * vocab_size)
        self.register_buffer("is_note", is_note, persistent=False)
        self._totals: dict[str, Tensor] = {}  # stage -> [nats, tokens, correct, notes]
        self.epoch_metrics: dict[str, float] = {}

    def forward(self, ids: Tensor, state: Any = None,
                lookback: Tensor | None = None) -> tuple[Tensor, Any]:
        return self.net(ids, state, lookback)

    # ---- loss and metrics -------------------------------------------------------------------

    def _score(self, logits: Tensor, targets: Tensor, stage: str) -> Tensor:
        """Mean loss over real targets; adds nats, tokens, hits and notes to the epoch totals."""
        real = targets != self.pad_id  # (B, T)
        nats = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                               ignore_index=self.pad_id, reduction="sum")
        n_real = real.sum()
        with torch.no_grad():
            correct = ((logits.argmax(-1) == targets) & real).sum()
            notes = (self.is_note[targets] & real).sum()
            sums = torch.stack([nats.detach().float(), n_real.float(), correct.float(),
                                notes.float()])
            totals = self._totals.get(stage)
            self._totals[stage] = sums if totals is None else totals + sums
        return nats / n_real.clamp(min=1)

    def _unpack(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, Tensor, Tensor | None]:
        """(inputs, targets, lookback features or None) of a batch of the data module."""
        inputs, targets, *rest = batch  # (B, T), (B, T), [(B, T, 5)]
        lookback = rest[0] if rest and self.net.config.lookback else None
        if self.net.config.lookback and lookback is None:
            raise ConfigError("the network has lookback but its batches carry no lookback "
                              "features; build the data module with lookback=True")
        return inputs, targets, lookback

    def _shared_step(self, batch: tuple[Tensor, ...], stage: str) -> Tensor:
        inputs, targets, lookback = self._unpack(batch)
        logits, _ = self.net(inputs, None, lookback)  # (B, T, V)
        return self._score(logits, targets, stage)

    def _log_epoch(self, stage: str) -> None:
        """Log the epoch's loss, perplexity, bits per note and accuracy from the summed totals."""
        totals = self._totals.pop(stage, None)
        if totals is None:
            return
        totals = self.trainer.strategy.reduce(totals, reduce_op="sum")
        nats, tokens, correct, notes = totals.tolist()
        if tokens == 0:
            return
        totals_of = Likelihood(log_likelihood=-nats, tokens=int(tokens), notes=int(notes),
                               correct=int(correct))
        metrics = {f"{stage}_loss": totals_of.nats_per_token,
                   f"{stage}_ppl": totals_of.perplexity, f"{stage}_acc": totals_of.accuracy}
        if notes:
            metrics[f"{stage}_bpn"] = totals_of.bits_per_note
        if stage == "train":
            metrics["lr"] = self.trainer.optimizers[0].param_groups[0]["lr"]
        self.epoch_metrics.update(metrics)
        # Already summed over processes; sync_dist only silences the DDP epoch-level warning.
        self.log_dict(metrics, prog_bar=stage == "val", sync_dist=True)

    # ---- steps ------------------------------------------------------------------------------

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor | None:
        if self.automatic_optimization:
            loss = self._shared_step(batch, "train")
            self.log("train_loss_step", loss, prog_bar=True, sync_dist=True)
            return loss
        self._truncated_bptt_step(batch)
        return None

    def _truncated_bptt_step(self, batch: tuple[Tensor, ...]) -> None:
        """TBPTT(k1, k2) over the batch's windows (`fit/tbptt.py`), one update per k1 steps.

        Lightning 2 dropped `truncated_bptt_steps`, so this follows its manual-optimization
        recipe: the state leaves each update detached, so gradients stop k2 steps back while
        the forward pass still sees the whole window's history (with attention, the past
        outputs the state carries too).
        """
        # under DDP every process must step as often: one length for all (`fit/tbptt.py`)
        inputs, targets, lookback = common_length(*self._unpack(batch), self.pad_id)
        optimizer = self.optimizers()
        assert not isinstance(optimizer, list)  # configure_optimizers returns one optimizer

        def score(logits: Tensor, chunk_targets: Tensor) -> Tensor:
            return self._score(logits, chunk_targets, "train")

        def update(loss: Tensor) -> None:
            optimizer.zero_grad()
            self.manual_backward(loss)
            optimizer.step()  # runs on_before_optimizer_step: norm logged, gradients clipped
            self.log("train_loss_step", loss.detach(), prog_bar=True, sync_dist=True)

        truncated_bptt(self.net, inputs, targets, lookback, self.tbptt_steps, self.tbptt_k2,
                       score, update)
        scheduler = self.lr_schedulers()
        if isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler) and not isinstance(
                scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step()  # per batch, as the automatic path steps it

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        return self._shared_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        return self._shared_step(batch, "test")

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")
        scheduler = self.lr_schedulers()
        if not self.automatic_optimization and isinstance(
                scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            val_loss = self.trainer.callback_metrics.get("val_loss")
            if val_loss is not None:
                scheduler.step(val_loss)

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    # ---- gradients and optimizers -----------------------------------------------------------

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Log the total gradient norm before clipping, then clip by norm or by value.

        Lightning calls this after AMP has unscaled the gradients and DDP has averaged them,
        in both automatic and manual optimization.
        """
        if not any(p.grad is not None for p in self.parameters()):
            return
        norm = clip_gradients(self, self.grad_clip_norm, self.grad_clip_value)
        self.log("train_grad_norm", norm, on_step=True, on_epoch=False)

    def configure_optimizers(self) -> Any:
        optimizer: torch.optim.Optimizer
        if self.optimizer == "sgd":
            optimizer = torch.optim.SGD(self.parameters(), lr=self.lr, momentum=self.momentum,
                                        weight_decay=self.weight_decay)
        else:
            optimizer_class = torch.optim.AdamW if self.optimizer == "adamw" else torch.optim.Adam
            optimizer = optimizer_class(self.parameters(), lr=self.lr,
                                        weight_decay=self.weight_decay)
        if self.lr_schedule == "plateau":
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, factor=self.plateau_factor, patience=self.plateau_patience,
                min_lr=self.min_lr)
            config: dict[str, Any] = {"scheduler": plateau, "interval": "epoch"}
            if self.automatic_optimization:  # manual optimization steps it in on_train_epoch_end
                # without validation Lightning warns and leaves the rate as it is
                config.update(monitor="val_loss", strict=False)
            return {"optimizer": optimizer, "lr_scheduler": config}
        if self.lr_schedule == "none" and self.warmup_steps == 0:
            return optimizer
        total = self.trainer.estimated_stepping_batches
        if self.lr_schedule == "cosine" and not math.isfinite(total):
            raise ConfigError("lr_schedule 'cosine' needs a length: set --trainer.max_epochs or "
                              "--trainer.max_steps")
        warmup, floor = self.warmup_steps, self.min_lr / self.lr
        cosine = self.lr_schedule == "cosine"

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            if not cosine:
                return 1.0
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler,
                                                         "interval": "step"}}

    # ---- fine-tuning and checkpoints ---------------------------------------------------------

    def setup(self, stage: str) -> None:
        """Load `init_from` weights before fitting, unless resuming from a checkpoint; refuse
        bfloat16 autocast of an LSTM on a CPU that cannot run it."""
        if self._trainer is not None and self.net.config.cell == "lstm" \
                and self._trainer.precision == "bf16-mixed" \
                and self._trainer.strategy.root_device.type == "cpu" \
                and not cpu_autocast_runs_lstm():
            raise ConfigError("--trainer.precision bf16-mixed: torch cannot run an LSTM in "
                              "bfloat16 on this CPU (its oneDNN has no bfloat16 LSTM here); "
                              "use --trainer.precision 32-true on the CPU, or a GPU")
        resuming = self._trainer is not None and self._trainer.ckpt_path
        if stage == "fit" and self.init_from and not resuming:
            load_weights_into(self.net, self.init_from, self.tokenizer)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["melodyrnn"] = {"version": __version__, "network": self.net.options(),
                                   "metrics": dict(self.epoch_metrics)}


def cpu_autocast_runs_lstm() -> bool:
    """Whether torch.autocast("cpu", bfloat16) runs an nn.LSTM here: it hands the LSTM to
    oneDNN, which has no bfloat16 LSTM on CPUs without bfloat16 instructions."""
    lstm = torch.nn.LSTM(2, 2)
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            lstm(torch.zeros(1, 1, 2))
    except RuntimeError:  # "could not create a primitive descriptor for the LSTM ..."
        return False
    return True


def clip_gradients(module: torch.nn.Module, clip_norm: float, clip_value: float) -> Tensor:
    """Clip the gradients by total L2 norm (if clip_norm), then each element to +-clip_value
    (if clip_value); the total norm before clipping."""
    params = [p for p in module.parameters() if p.grad is not None]
    # clip_grad_norm_ returns the norm before clipping; with max_norm=inf it clips nothing
    norm = torch.nn.utils.clip_grad_norm_(params, clip_norm or math.inf)
    if clip_value > 0:
        torch.nn.utils.clip_grad_value_(params, clip_value)
    return norm


def _check_training_options(optimizer: str, lr: float, weight_decay: float, lr_schedule: str,
                            warmup_steps: int, tbptt_steps: int, tbptt_k2: int,
                            grad_clip_norm: float,
                            grad_clip_value: float, tokenizer: dict[str, Any] | None,
                            vocab_size: int) -> None:
    """Refuse training options that cannot work, with a sentence naming the value."""
    if optimizer not in ("adam", "adamw", "sgd"):
        raise ConfigError(f"optimizer '{optimizer}' is not one of adam, adamw, sgd")
    if lr_schedule not in ("none", "cosine", "plateau"):
        raise ConfigError(f"lr_schedule '{lr_schedule}' is not one of none, cosine, plateau")
    if not lr > 0:
        raise ConfigError(f"lr has to be greater than 0, got {lr}")
    for name, value in (("weight_decay", weight_decay), ("warmup_steps", warmup_steps),
                        ("tbptt_steps", tbptt_steps), ("tbptt_k2", tbptt_k2),
                        ("grad_clip_norm", grad_clip_norm),
                        ("grad_clip_value", grad_clip_value)):
        if value < 0:
            raise ConfigError(f"{name} has to be 0 or more, got {value}")
    if tbptt_k2 and not tbptt_steps:
        raise ConfigError(f"tbptt_k2 {tbptt_k2} needs tbptt_steps (k1): set "
                          "--model.tbptt_steps too, or leave tbptt_k2 at 0 for full BPTT")
    if tbptt_k2 and tbptt_k2 < tbptt_steps:
        raise ConfigError(f"tbptt_k2 has to be at least tbptt_steps ({tbptt_steps}): each update "
                          f"backpropagates through the steps it ran, got {tbptt_k2}")
    if lr_schedule == "plateau" and warmup_steps:
        raise ConfigError("warmup_steps works with lr_schedule none or cosine, not plateau")
    if tokenizer is not None and len(tokenizer.get("vocab", [])) != vocab_size:
        raise ConfigError(f"the tokenizer has {len(tokenizer.get('vocab', []))} tokens but "
                          f"vocab_size is {vocab_size}")
