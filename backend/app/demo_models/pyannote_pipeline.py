"""Pipeline de démonstration minuscule de diarisation pyannote.

Même disposition que pyannote/speaker-diarization-community-1 (`config.yaml`,
`segmentation/`, `embedding/`, `plda/`) et même classe de pipeline
(`pyannote.audio.pipelines.SpeakerDiarization` avec `VBxClustering`), mais des
poids aléatoires : `Pipeline.from_pretrained(<répertoire>)` la charge sans
accès au Hub, et elle produit des tours de parole (sans valeur) en quelques
secondes sur CPU.

Différences avec le modèle publié : la segmentation est un `PyanNet` à LSTM et
couches linéaires minuscules, dont quelques poids sont réglés à la main (un
silence donne une diarisation vide, les tours restent stables), et le
plongement `XVectorMFCC` (256 dimensions) remplace `WeSpeakerResNet34`.
"""

from __future__ import annotations

from pathlib import Path

from .staging import build_atomically, is_complete

BUILD_VERSION = 1
PIPELINE_CLASS = "pyannote.audio.pipelines.SpeakerDiarization"
SEED = 1234

REQUIRED_FILES = (
    "config.yaml",
    "segmentation/pytorch_model.bin",
    "embedding/pytorch_model.bin",
    "plda/xvec_transform.npz",
    "plda/plda.npz",
)

# Dimensions imposées par la PLDA de VBx : plongement -> LDA -> espace PLDA.
EMBEDDING_DIMENSION = 256
LDA_DIMENSION = 128

# Segmentation : fenêtres de 10 s, 3 locuteurs locaux, au plus 2 simultanés
# (7 classes « powerset »), comme pyannote/segmentation-3.0.
SEGMENTATION_DURATION = 10.0
SEGMENTATION_SPEAKERS = 3
POWERSET_MAX_CLASSES = 2

# Même contenu que le config.yaml publié, hors sous-dossiers résolus par
# pyannote (`$model/...` désigne un sous-dossier du répertoire chargé).
PIPELINE_CONFIG = """\
# Pipeline de démonstration à poids aléatoires (disposition de
# pyannote/speaker-diarization-community-1).
dependencies:
  pyannote.audio: {version}

pipeline:
  name: {pipeline_class}
  params:
    clustering: VBxClustering
    segmentation: $model/segmentation
    segmentation_batch_size: 32
    embedding: $model/embedding
    embedding_batch_size: 32
    embedding_exclude_overlap: true
    plda: $model/plda

params:
  clustering:
    threshold: 0.6
    Fa: 0.07
    Fb: 0.8
  segmentation:
    min_duration_off: 0.0
"""


def _save_checkpoint(model, path: Path) -> None:
    """Écrit `model` comme le ferait Lightning, au format lu par `Model.from_pretrained`."""
    import lightning
    import torch

    checkpoint = {
        "pytorch-lightning_version": lightning.__version__,
        "state_dict": model.state_dict(),
        "hyper_parameters": dict(model.hparams),
    }
    # Ajoute la clé `pyannote.audio` : versions, architecture et spécifications.
    model.on_save_checkpoint(checkpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)


def _write_segmentation(directory: Path) -> None:
    import torch
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.segmentation import PyanNet

    torch.manual_seed(SEED)
    model = PyanNet(
        sincnet={"stride": 10},
        lstm={"hidden_size": 16, "num_layers": 1, "bidirectional": True, "monolithic": True},
        linear={"hidden_size": 16, "num_layers": 1},
    )
    model.specifications = Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION,
        resolution=Resolution.FRAME,
        duration=SEGMENTATION_DURATION,
        classes=[f"speaker#{i + 1}" for i in range(SEGMENTATION_SPEAKERS)],
        powerset_max_classes=POWERSET_MAX_CLASSES,
        permutation_invariant=True,
    )
    # Ajoute le classifieur final (7 classes) et l'activation log-softmax.
    model.build()
    _shape_segmentation(model)
    _save_checkpoint(model.eval(), directory / "segmentation" / "pytorch_model.bin")


def _shape_segmentation(model) -> None:
    """Rend la sortie aléatoire de la segmentation exploitable par le pipeline.

    Avec des poids bruts, la classe prédite change presque à chaque trame, les
    chevauchements dominent (aucune trame « propre » pour VBx, dont les
    centroïdes deviennent NaN) et un silence numérique passe pour de la parole.
    Sans apprentissage, on règle donc quelques poids à la main :

    - convolutions 2 et 3 de SincNet à poids positifs : la moyenne des canaux
      suit l'énergie relative de la trame dans la fenêtre (nulle si silence) ;
    - unité 0 du LSTM (dans chaque sens) : détecteur d'activité lissé qui
      intègre cette moyenne, relié seul à la classe « personne ne parle » ;
    - autres unités lissées (porte d'oubli ouverte, porte d'entrée fermée,
      porte de sortie ouverte) : peu de changements de locuteur par fenêtre ;
    - classes de chevauchement pénalisées.
    """
    import torch

    hidden = model.lstm.hidden_size
    in_features = model.lstm.input_size
    with torch.no_grad():
        for conv in model.sincnet.conv1d[1:]:
            conv.weight.abs_()
        # Portes de nn.LSTM, dans l'ordre : entrée, oubli, cellule, sortie.
        gates = [slice(k * hidden, (k + 1) * hidden) for k in range(4)]
        for suffix in ("", "_reverse"):
            w_ih = getattr(model.lstm, f"weight_ih_l0{suffix}")
            w_hh = getattr(model.lstm, f"weight_hh_l0{suffix}")
            b_ih = getattr(model.lstm, f"bias_ih_l0{suffix}")
            b_hh = getattr(model.lstm, f"bias_hh_l0{suffix}")
            for gate, offset in zip(gates, (-3.0, 4.0, 0.0, 6.0), strict=True):
                b_ih[gate] += offset
            # Détecteur d'activité : c <- 0,88 c + tanh(4 * moyenne des canaux).
            rows = [k * hidden for k in range(4)]
            w_ih[rows] = 0.0
            w_hh[rows] = 0.0
            b_hh[rows] = 0.0
            b_ih[rows] = torch.tensor([4.0, 2.0, 0.0, 6.0])
            w_ih[2 * hidden] = 4.0 / in_features
        # Première couche linéaire : sa sortie 0 somme les deux détecteurs.
        linear = model.linear[0]
        linear.weight[0] = 0.0
        linear.weight[0, 0] = linear.weight[0, hidden] = 2.0
        linear.bias[0] = 0.0
        # Classes powerset : {}, {1}, {2}, {3}, puis les paires {1,2}, {1,3}, {2,3}.
        # Seule la classe {} dépend de l'activité : elle gagne quand rien ne bouge.
        classifier = model.classifier
        classifier.weight[:, 0] = 0.0
        classifier.weight[0] = 0.0
        classifier.weight[0, 0] = -3.0
        bias = torch.zeros_like(classifier.bias)
        bias[0] = 1.0
        bias[1 + SEGMENTATION_SPEAKERS :] = -3.0
        classifier.bias.copy_(bias)


def _write_embedding(directory: Path) -> None:
    import torch
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import XVectorMFCC

    torch.manual_seed(SEED + 1)
    # Trames MFCC de 30 ms au lieu de 12,5 ms : moins de calcul dans les TDNN.
    model = XVectorMFCC(
        mfcc={"n_mfcc": 20, "melkwargs": {"n_fft": 512, "hop_length": 480, "n_mels": 40}},
        dimension=EMBEDDING_DIMENSION,
    )
    model.specifications = Specifications(
        problem=Problem.REPRESENTATION,
        resolution=Resolution.CHUNK,
        duration=SEGMENTATION_DURATION,
        min_duration=0.5,
    )
    _save_checkpoint(model.eval(), directory / "embedding" / "pytorch_model.bin")


def _write_plda(directory: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(SEED)
    plda_dir = directory / "plda"
    plda_dir.mkdir(parents=True, exist_ok=True)
    # Projection LDA à colonnes orthonormées (256 -> 128).
    lda, _ = np.linalg.qr(rng.standard_normal((EMBEDDING_DIMENSION, LDA_DIMENSION)))
    np.savez(
        plda_dir / "xvec_transform.npz",
        mean1=0.01 * rng.standard_normal(EMBEDDING_DIMENSION),
        mean2=0.01 * rng.standard_normal(LDA_DIMENSION),
        lda=lda,
    )
    # PLDA : transformation orthogonale et variances inter-classes positives
    # décroissantes, pour que le problème aux valeurs propres de VBx soit bien posé.
    tr, _ = np.linalg.qr(rng.standard_normal((LDA_DIMENSION, LDA_DIMENSION)))
    psi = np.sort(rng.uniform(0.1, 5.0, LDA_DIMENSION))[::-1].copy()
    np.savez(
        plda_dir / "plda.npz",
        mu=0.01 * rng.standard_normal(LDA_DIMENSION),
        tr=tr,
        psi=psi,
    )


def _write_all(directory: Path) -> dict:
    import pyannote.audio

    _write_segmentation(directory)
    _write_embedding(directory)
    _write_plda(directory)
    config = PIPELINE_CONFIG.format(version=pyannote.audio.__version__, pipeline_class=PIPELINE_CLASS)
    (directory / "config.yaml").write_text(config, encoding="utf-8")
    return {"pipeline": PIPELINE_CLASS, "seed": SEED, "pyannote_audio": pyannote.audio.__version__}


def build_pyannote_pipeline(target: Path, force: bool = False) -> Path:
    """Construit le pipeline dans `target` (idempotent) et renvoie son chemin.

    La construction se fait dans un répertoire temporaire voisin, renommé à la
    fin : une interruption ne laisse jamais de pipeline à moitié écrit.
    """
    target = Path(target).expanduser().resolve()
    if force or not is_complete(target, BUILD_VERSION, REQUIRED_FILES):
        build_atomically(target, BUILD_VERSION, REQUIRED_FILES, _write_all)
    return target
