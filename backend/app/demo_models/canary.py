"""Modèle de démonstration minuscule de l'architecture NVIDIA Canary 2.

Même classe que nvidia/canary-1b-v2 (`EncDecMultiTaskModel`, format de prompt
`canary2`, un seul tokeniseur SentencePiece BPE dont les jetons spéciaux sont
des symboles utilisateur), mais quelques mégaoctets de poids aléatoires. Comme
le modèle publié, le fichier `.nemo` embarque un petit modèle CTC
(`timestamps_asr_model_*`) qui sert à l'alignement forcé : `transcribe(...,
timestamps=True)` renvoie donc des horodatages de mots et de segments.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from pathlib import Path

from .staging import build_atomically, is_complete

BUILD_VERSION = 1
MODEL_FILE = "canary-tiny.nemo"
ARCHITECTURE = "EncDecMultiTaskModel"
PROMPT_FORMAT = "canary2"
SEED = 1234

# Fichiers que `EncDecMultiTaskModel` cherche dans le `.nemo` pour restaurer le
# modèle CTC d'alignement (voir `__restore_timestamps_asr_model` dans NeMo).
TIMESTAMPS_CONFIG = "timestamps_asr_model_config.yaml"
TIMESTAMPS_WEIGHTS = "timestamps_asr_model_weights.ckpt"

# Les 25 langues de canary-1b-v2.
LANGUAGES = (
    "bg", "hr", "cs", "da", "nl", "en", "et", "fi", "fr", "de", "el", "hu", "it",
    "lv", "lt", "mt", "pl", "pt", "ro", "sk", "sl", "es", "sv", "ru", "uk",
)  # fmt: skip

# Pièces ordinaires apprises sur le corpus, en plus des jetons spéciaux.
TEXT_VOCAB_SIZE = 1024

# Longueur de la sortie. Les poids aléatoires n'émettent jamais d'eux-mêmes la
# fin de séquence : le décodage irait jusqu'au plafond de NeMo, trames de
# l'encodeur + MAX_GENERATION_DELTA, prompt compris, où les trames sont celles
# du plus long extrait du lot (un extrait court hériterait de la longueur du
# plus long). On force donc la fin de séquence à partir de la position absolue
# EOS_POSITION : avec le prompt par défaut (10 jetons), chaque sortie fait au
# plus 23 jetons, quel que soit le lot. Le décodage est rapide, et le texte
# (au pire 45 trames CTC, jetons répétés compris) tient toujours dans les
# trames du modèle d'alignement, puisque NeMo complète l'audio à 1 s au moins.
# Un `decodercontext` raccourcit d'autant la sortie (vide au-delà d'une
# vingtaine de jetons de contexte).
EOS_POSITION = 32
MAX_GENERATION_DELTA = 50

# Sous-échantillonnage du modèle CTC d'alignement : x2, soit une trame toutes
# les 20 ms (x8, 80 ms, pour l'encodeur principal comme pour canary-1b-v2).
ALIGNER_SUBSAMPLING = 2

# Biais de sortie des jetons spéciaux (sauf fin de séquence) : le modèle
# aléatoire n'écrit ainsi que du texte, comme le vrai en transcription.
SPECIAL_TOKEN_BIAS = -1.0e4

# Valeurs par défaut des emplacements du prompt `canary2`, celles de
# canary-1b-v2 : indispensables pour transcrire des tableaux numpy en mémoire.
PROMPT_DEFAULTS = [
    {
        "role": "user",
        "slots": {
            "decodercontext": "",
            "emotion": "<|emo:undefined|>",
            "source_lang": "en",
            "target_lang": "en",
            "pnc": "yes",
            "itn": "no",
            "timestamp": "no",
            "diarize": "no",
        },
    },
    {"role": "user_partial", "slots": {"decodercontext": ""}},
]

_CORPUS = (
    # Français
    "Bonjour et bienvenue dans cette démonstration de reconnaissance vocale.",
    "La passerelle d'inférence reçoit les requêtes et les transmet aux modèles.",
    "Ce modèle minuscule a des poids aléatoires : ses transcriptions n'ont aucun sens.",
    "La transcription de l'enregistrement audio est disponible ci-dessous.",
    "Le locuteur numéro un parle de la réunion de lundi matin à Paris.",
    "Quelle est la capitale de la France ? La capitale de la France est Paris.",
    "Il fait beau aujourd'hui ; demain, il pleuvra probablement sur Lyon.",
    "Les élèves étudient les mathématiques, l'histoire, la géographie et l'anglais.",
    "Nous avons reçu votre demande et nous vous répondrons très rapidement.",
    "Le train pour Marseille partira du quai numéro trois à huit heures.",
    "Merci beaucoup pour votre attention ! Bonne journée et à bientôt.",
    "Pouvez-vous répéter la question, s'il vous plaît ? Je n'ai pas bien entendu.",
    "Un, deux, trois, quatre, cinq, six, sept, huit, neuf, dix.",
    "La séance est ouverte ; la parole est à madame la présidente.",
    "Le médecin a conseillé au patient de se reposer pendant une semaine.",
    # English
    "Hello and welcome to this speech recognition demonstration.",
    "The inference gateway receives requests and forwards them to the models.",
    "This tiny model has random weights, so its transcripts are meaningless.",
    "The transcript of the audio recording is available below.",
    "Speaker one talks about the Monday morning meeting in London.",
    "What is the capital of England? The capital of England is London.",
    "It is sunny today; tomorrow it will probably rain in Manchester.",
    "Students learn mathematics, history, geography and French at school.",
    "We have received your request and will answer you very quickly.",
    "The train to Edinburgh will leave from platform three at eight o'clock.",
    "Thank you very much for your attention! Have a nice day and see you soon.",
    "Could you repeat the question, please? I did not hear it well.",
    "One, two, three, four, five, six, seven, eight, nine, ten.",
    # Deutsch
    "Guten Tag und herzlich willkommen zu dieser Demonstration der Spracherkennung.",
    "Das Gateway empfängt Anfragen und leitet sie an die Modelle weiter.",
    "Dieses winzige Modell hat zufällige Gewichte, seine Ausgaben sind sinnlos.",
    "Die Abschrift der Tonaufnahme finden Sie weiter unten.",
    "Der erste Sprecher redet über die Besprechung am Montagmorgen in Berlin.",
    "Was ist die Hauptstadt von Deutschland? Die Hauptstadt ist Berlin.",
    "Heute scheint die Sonne; morgen regnet es wahrscheinlich in München.",
    "Vielen Dank für Ihre Aufmerksamkeit! Einen schönen Tag noch.",
    "Eins, zwei, drei, vier, fünf, sechs, sieben, acht, neun, zehn.",
    "Der Zug nach Hamburg fährt um acht Uhr von Gleis drei ab.",
    # Español
    "Hola y bienvenidos a esta demostración de reconocimiento de voz.",
    "La pasarela de inferencia recibe las peticiones y las envía a los modelos.",
    "Este modelo diminuto tiene pesos aleatorios, sus transcripciones no tienen sentido.",
    "La transcripción de la grabación de audio está disponible a continuación.",
    "El primer orador habla de la reunión del lunes por la mañana en Madrid.",
    "¿Cuál es la capital de España? La capital de España es Madrid.",
    "Hoy hace sol; mañana probablemente lloverá en Barcelona.",
    "¡Muchas gracias por su atención! Que tenga un buen día.",
    "Uno, dos, tres, cuatro, cinco, seis, siete, ocho, nueve, diez.",
    "El tren a Sevilla saldrá del andén tres a las ocho en punto.",
)


def special_tokens() -> list[str]:
    """Jetons spéciaux de canary-1b-v2, dans l'ordre de leurs identifiants."""
    from nemo.collections.common.tokenizers.canary_tokenizer import DEFAULT_TOKENS

    tokens = [
        *DEFAULT_TOKENS,  # <|nospeech|>, <pad>, <|endoftext|>, <|startoftranscript|>, <|pnc|>, <|nopnc|>
        "<|startofcontext|>",
        "<|itn|>",
        "<|noitn|>",
        "<|timestamp|>",
        "<|notimestamp|>",
        "<|diarize|>",
        "<|nodiarize|>",
        "<|spkchange|>",
        "<|audioseparator|>",
        "<|emo:undefined|>",
        "<|emo:neutral|>",
        "<|emo:happy|>",
        "<|emo:sad|>",
        "<|emo:angry|>",
        "<|unklang|>",
        *(f"<|{lang}|>" for lang in LANGUAGES),
        *(f"<|{i}|>" for i in range(900)),  # trames des horodatages
        *(f"<|spk{i}|>" for i in range(16)),
    ]
    # Comme pour le modèle publié : complété par des jetons inutilisés jusqu'à
    # un multiple de 64 (en comptant <unk>, seul jeton de contrôle de SentencePiece).
    tokens += [f"<|spltoken{i}|>" for i in range(-(len(tokens) + 1) % 64)]
    return tokens


def _train_tokenizer(directory: Path, tokens: list[str]) -> None:
    """Entraîne le tokeniseur BPE (déterministe) dans `directory`.

    Écrit les trois fichiers qu'attend NeMo : `tokenizer.model`,
    `tokenizer.vocab` et `vocab.txt`.
    """
    import sentencepiece

    directory.mkdir(parents=True, exist_ok=True)
    corpus = directory / "corpus.txt"
    # Le corpus est répété pour donner des fréquences stables aux paires.
    corpus.write_text("\n".join(list(_CORPUS) * 4) + "\n", encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(directory / "tokenizer"),
        model_type="bpe",
        vocab_size=len(tokens) + 1 + TEXT_VOCAB_SIZE,
        hard_vocab_limit=False,
        character_coverage=1.0,
        user_defined_symbols=tokens,
        bos_id=-1,
        eos_id=-1,
        remove_extra_whitespaces=False,
        shuffle_input_sentence=False,
        num_threads=1,
        minloglevel=2,
    )
    corpus.unlink()

    # vocab.txt au format de NeMo (`create_spt_model`) : pièces sans les
    # jetons spéciaux, « ▁x » devient « x » et « x » devient « ##x ».
    skipped = {"<s>", "</s>", "<pad>", "<unk>", *tokens}
    lines = []
    for line in (directory / "tokenizer.vocab").read_text(encoding="utf-8").splitlines():
        piece = line.split("\t")[0]
        if piece in skipped:
            continue
        token = piece[1:] if piece.startswith("▁") else f"##{piece}"
        if token:
            lines.append(token)
    (directory / "vocab.txt").write_text("".join(f"{t}\n" for t in lines), encoding="utf-8")


def _check_tokenizer(model_path: Path, tokens: list[str]) -> int:
    """Vérifie que chaque jeton spécial est une pièce unique ; renvoie la taille du vocabulaire.

    Un jeton absent du vocabulaire serait découpé sans erreur : une langue
    manquante produirait un prompt faux sans que rien ne le signale.
    """
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(model_file=str(model_path))
    for token in tokens:
        pieces = processor.encode(token, out_type=str, add_bos=False, add_eos=False)
        if [p for p in pieces if p != "▁"] != [token]:
            raise RuntimeError(f"jeton spécial {token!r} découpé en {pieces}")
    return processor.get_piece_size()


def _preprocessor() -> dict:
    return {
        "_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
        "sample_rate": 16000,
        "normalize": "per_feature",
        "window_size": 0.025,
        "window_stride": 0.01,
        "window": "hann",
        "features": 128,
        "n_fft": 512,
        "log": True,
        "frame_splicing": 1,
        "dither": 1e-05,
        "pad_to": 0,
        "pad_value": 0.0,
    }


def _encoder(hidden: int, layers: int, subsampling_factor: int = 8) -> dict:
    """FastConformer minuscule (sous-échantillonnage x8 par défaut)."""
    config = {
        "_target_": "nemo.collections.asr.modules.ConformerEncoder",
        "feat_in": 128,
        "feat_out": -1,
        "n_layers": layers,
        "d_model": hidden,
        "subsampling": "dw_striding",
        "subsampling_factor": subsampling_factor,
        "subsampling_conv_channels": 64,
        "causal_downsampling": False,
        "ff_expansion_factor": 4,
        "self_attention_model": "rel_pos",
        "n_heads": 4,
        "att_context_size": [-1, -1],
        "xscaling": False,
        "untie_biases": True,
        "pos_emb_max_len": 5000,
        "conv_kernel_size": 9,
        "conv_norm_type": "batch_norm",
        "conv_context_size": None,
        "dropout": 0.1,
        "dropout_pre_encoder": 0.1,
        "dropout_emb": 0.0,
        "dropout_att": 0.1,
    }
    if subsampling_factor < 8:
        # Attention locale : mémoire linéaire en la durée malgré les trames
        # plus fines (l'attention complète est quadratique).
        config["self_attention_model"] = "rel_pos_local_attn"
        config["att_context_size"] = [64, 64]
    return config


def _tokenizer_config(tokenizer_dir: Path, canary: bool) -> dict:
    # Chemins explicites plutôt que `dir` : `save_to` les remplace par les
    # artefacts du `.nemo`, sans laisser de chemin temporaire dans la configuration.
    config = {
        "dir": None,
        "type": "bpe",
        "model_path": str(tokenizer_dir / "tokenizer.model"),
        "vocab_path": str(tokenizer_dir / "vocab.txt"),
        "spe_tokenizer_vocab": str(tokenizer_dir / "tokenizer.vocab"),
    }
    if canary:
        # Comme canary-1b-v2 : un seul SentencePiece, enveloppé pour que
        # bos/eos/pad désignent les jetons spéciaux de Canary.
        config["custom_tokenizer"] = {
            "_target_": "nemo.collections.common.tokenizers.canary_tokenizer.CanaryBPETokenizer"
        }
    return config


def _canary_config(tokenizer_dir: Path) -> dict:
    hidden = 128
    return {
        "sample_rate": 16000,
        "label_smoothing": 0.0,
        "prompt_format": PROMPT_FORMAT,
        "prompt_defaults": PROMPT_DEFAULTS,
        "model_defaults": {"asr_enc_hidden": hidden, "lm_enc_hidden": hidden, "lm_dec_hidden": hidden},
        "tokenizer": _tokenizer_config(tokenizer_dir, canary=True),
        "preprocessor": _preprocessor(),
        "spec_augment": None,
        "encoder": _encoder(hidden, layers=2),
        "transf_encoder": {
            "_target_": "nemo.collections.asr.modules.transformer.transformer_encoders.TransformerEncoder",
            "num_layers": 0,
            "hidden_size": hidden,
            "inner_size": 4 * hidden,
            "num_attention_heads": 4,
            "ffn_dropout": 0.1,
            "attn_score_dropout": 0.1,
            "attn_layer_dropout": 0.1,
            "mask_future": False,
            "pre_ln": True,
            "pre_ln_final_layer_norm": True,
        },
        "transf_decoder": {
            "_target_": "nemo.collections.asr.modules.transformer.get_nemo_transformer",
            "model_name": None,
            "pretrained": False,
            "encoder": None,
            "pre_ln_final_layer_norm": True,
            "config_dict": {
                "max_sequence_length": 1024,
                "num_token_types": 0,
                "embedding_dropout": 0.1,
                "learn_positional_encodings": False,
                "hidden_size": hidden,
                "inner_size": 4 * hidden,
                "num_layers": 2,
                "num_attention_heads": 4,
                "ffn_dropout": 0.1,
                "attn_score_dropout": 0.1,
                "attn_layer_dropout": 0.1,
                "hidden_act": "relu",
                "pre_ln": True,
                "vocab_size": None,  # calculé par le modèle
            },
        },
        "head": {
            "_target_": "nemo.collections.asr.parts.submodules.token_classifier.TokenClassifier",
            "num_layers": 1,
            "activation": "relu",
            "log_softmax": True,
            "hidden_size": hidden,
            "num_classes": None,  # calculé par le modèle
            "dropout": 0.0,
            "use_transformer_init": True,
        },
        "decoding": {
            "strategy": "beam",
            "return_best_hypothesis": True,
            "beam": {"beam_size": 1, "len_pen": 0.0, "max_generation_delta": MAX_GENERATION_DELTA},
        },
        "loss": {
            "_target_": "nemo.collections.common.losses.smoothed_cross_entropy.SmoothedCrossEntropyLoss",
            "label_smoothing": 0.0,
            "pad_id": None,
        },
    }


def _ctc_config(tokenizer_dir: Path) -> dict:
    """Petit FastConformer-CTC d'alignement, avec le même tokeniseur."""
    return {
        "sample_rate": 16000,
        "tokenizer": _tokenizer_config(tokenizer_dir, canary=False),
        "preprocessor": _preprocessor(),
        "spec_augment": None,
        "encoder": _encoder(64, layers=1, subsampling_factor=ALIGNER_SUBSAMPLING),
        "decoder": {
            "_target_": "nemo.collections.asr.modules.ConvASRDecoder",
            "feat_in": None,
            "num_classes": -1,
            "vocabulary": [],
        },
        "decoding": {"strategy": "greedy_batch"},
    }


def _mask_special_tokens(model, tokens: list[str]) -> None:
    """Interdit en sortie <unk>, les jetons spéciaux (sauf la fin de séquence) et le remplissage."""
    import torch

    tokenizer = model.tokenizer
    banned = [tokenizer.token_to_id(token) for token in ["<unk>", *tokens] if token != "<|endoftext|>"]
    bias = model.log_softmax.mlp.layer0.bias
    with torch.no_grad():
        bias[banned] = SPECIAL_TOKEN_BIAS
        bias[tokenizer.vocab_size :] = SPECIAL_TOKEN_BIAS


def _force_eos_position(model) -> None:
    """Force la fin de séquence à partir de la position EOS_POSITION du décodeur.

    L'encodage de position (sinusoïdal, enregistré avec les poids) y est
    remplacé par un multiple du plongement de <|endoftext|> ; la tête de
    sortie partage ces plongements, donc ce jeton l'emporte à ces positions.
    """
    import torch

    embedding = model.transf_decoder.embedding
    eos = embedding.token_embedding.weight[model.tokenizer.eos_id]
    with torch.no_grad():
        embedding.position_embedding.pos_enc[EOS_POSITION:] = 20.0 * eos


def _write_model(path: Path, work: Path) -> dict:
    import torch
    from nemo.collections.asr.models import EncDecCTCModelBPE, EncDecMultiTaskModel
    from omegaconf import OmegaConf

    tokens = special_tokens()
    tokenizer_dir = work / "tokenizer"
    _train_tokenizer(tokenizer_dir, tokens)
    vocab_size = _check_tokenizer(tokenizer_dir / "tokenizer.model", tokens)

    torch.manual_seed(SEED)
    model = EncDecMultiTaskModel(cfg=OmegaConf.create(_canary_config(tokenizer_dir))).eval()
    _mask_special_tokens(model, tokens)
    _force_eos_position(model)
    model.save_to(str(work / "canary.nemo"))
    torch.manual_seed(SEED + 1)
    aligner = EncDecCTCModelBPE(cfg=OmegaConf.create(_ctc_config(tokenizer_dir))).eval()
    aligner.save_to(str(work / "aligner.nemo"))

    # Assemblage comme le `.nemo` publié : le modèle principal, plus la
    # configuration et les poids du CTC sous les noms `timestamps_asr_model_*`.
    # Les artefacts du CTC (son tokeniseur) gardent leur nom unique.
    merged = work / "merged"
    with tarfile.open(work / "canary.nemo") as tar:
        tar.extractall(merged, filter="data")
    aligner_dir = work / "aligner"
    with tarfile.open(work / "aligner.nemo") as tar:
        tar.extractall(aligner_dir, filter="data")
    renames = {"model_config.yaml": TIMESTAMPS_CONFIG, "model_weights.ckpt": TIMESTAMPS_WEIGHTS}
    for item in aligner_dir.iterdir():
        os.replace(item, merged / renames.get(item.name, item.name))
    with tarfile.open(path, "w:") as tar:
        for item in sorted(merged.iterdir()):
            tar.add(item, arcname=f"./{item.name}")

    return {
        "vocab_size": vocab_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "aligner_parameters": sum(p.numel() for p in aligner.parameters()),
    }


def _write_all(directory: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix=".work.", dir=directory) as work:
        info = _write_model(directory / MODEL_FILE, Path(work))
    return {
        "architecture": ARCHITECTURE,
        "prompt_format": PROMPT_FORMAT,
        "model_file": MODEL_FILE,
        "seed": SEED,
        **info,
    }


def build_canary(target: Path, force: bool = False) -> Path:
    """Construit le modèle dans le dossier `target` (idempotent, atomique) ; renvoie le chemin du `.nemo`."""
    target = Path(target).expanduser().resolve()
    if force or not is_complete(target, BUILD_VERSION, [MODEL_FILE]):
        build_atomically(target, BUILD_VERSION, [MODEL_FILE], _write_all)
    return target / MODEL_FILE
