"""Modèle de démonstration minuscule de l'architecture Qwen3-VL-MoE.

Même classe que Qwen/Qwen3-VL-30B-A3B-Instruct
(`Qwen3VLMoeForConditionalGeneration`), mais quelques mégaoctets de poids
aléatoires : assez pour que vLLM (CPU) le serve en texte et en image.
"""

from __future__ import annotations

import json
from pathlib import Path

from .staging import build_atomically, is_complete

BUILD_VERSION = 2
ARCHITECTURE = "Qwen3VLMoeForConditionalGeneration"
SEED = 1234

REQUIRED_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "preprocessor_config.json",
    "video_preprocessor_config.json",
    "processor_config.json",
)

# Patch 16 et fusion 2x2 : un jeton visuel couvre 32x32 pixels. Une image
# 64x64 donne 4 jetons, une image 256x256 en donne 64, et au plus 128.
_IMAGE_SIZE = {"shortest_edge": 4 * 32 * 32, "longest_edge": 128 * 32 * 32}
_VIDEO_SIZE = {"shortest_edge": 4 * 32 * 32, "longest_edge": 256 * 32 * 32}
_VISION_COMMON = {
    "patch_size": 16,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
}


def _config_dict(vocab_size: int, token_ids: dict[str, int]) -> dict:
    hidden = 128
    text_config = {
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 64,
        "max_position_embeddings": 32768,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 5_000_000.0,
            "mrope_section": [12, 10, 10],  # somme = head_dim / 2
            "mrope_interleaved": True,
        },
        "moe_intermediate_size": 96,  # ni I ni 2I ne doivent valoir hidden
        "num_experts": 4,
        "num_experts_per_tok": 2,
        "decoder_sparse_step": 1,
        "tie_word_embeddings": False,
        "bos_token_id": None,
        "eos_token_id": token_ids["<|im_end|>"],
        "pad_token_id": token_ids["<|endoftext|>"],
    }
    vision_config = {
        "depth": 2,
        "hidden_size": hidden,
        "intermediate_size": 256,
        "num_heads": 2,
        "patch_size": 16,
        "temporal_patch_size": 2,
        "spatial_merge_size": 2,
        "out_hidden_size": hidden,
        "num_position_embeddings": 576,
        "deepstack_visual_indexes": [0, 1],
    }
    return {
        "text_config": text_config,
        "vision_config": vision_config,
        "image_token_id": token_ids["<|image_pad|>"],
        "video_token_id": token_ids["<|video_pad|>"],
        "vision_start_token_id": token_ids["<|vision_start|>"],
        "vision_end_token_id": token_ids["<|vision_end|>"],
        "tie_word_embeddings": False,
    }


def _write_model(directory: Path, config_dict: dict) -> None:
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import (
        GenerationConfig,
        Qwen3VLMoeConfig,
        Qwen3VLMoeForConditionalGeneration,
    )
    from transformers.utils.logging import disable_progress_bar

    disable_progress_bar()
    torch.manual_seed(SEED)
    config = Qwen3VLMoeConfig(**config_dict)
    model = Qwen3VLMoeForConditionalGeneration(config).to(torch.bfloat16).eval()
    model.save_pretrained(directory)
    text = config.text_config
    GenerationConfig(eos_token_id=text.eos_token_id, pad_token_id=text.pad_token_id).save_pretrained(directory)

    # transformers enregistre les experts fusionnés en [E, 2I, H] et [E, H, I] ;
    # vLLM attend la disposition du checkpoint publié : [E, H, 2I] et [E, I, H].
    weights_path = directory / "model.safetensors"
    tensors = load_file(weights_path)
    for name in list(tensors):
        if name.endswith(("mlp.experts.gate_up_proj", "mlp.experts.down_proj")):
            tensors[name] = tensors[name].transpose(1, 2).contiguous()
    save_file(tensors, weights_path, metadata={"format": "pt"})

    # vLLM lit `norm_topk_prob`, absent de la classe de configuration.
    config_path = directory / "config.json"
    saved = json.loads(config_path.read_text(encoding="utf-8"))
    saved["text_config"]["norm_topk_prob"] = True
    config_path.write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")


def _write_processor(directory: Path, tokenizer) -> None:
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2VLImageProcessor,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )

    from .tokenizer import CHAT_TEMPLATE

    hf_tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=32768,
    )
    image_processor = Qwen2VLImageProcessor(size=_IMAGE_SIZE, **_VISION_COMMON)
    # Plafond de pixels par image de la vidéo : comportement de référence
    # (qwen-vl-utils), futur défaut de transformers.
    video_processor = Qwen3VLVideoProcessor(
        size=_VIDEO_SIZE,
        min_frames=2,
        max_frames=16,
        fps=2,
        cap_pixels_per_frame=True,
        max_video_tokens=64,
        **_VISION_COMMON,
    )
    processor = Qwen3VLProcessor(
        image_processor=image_processor,
        tokenizer=hf_tokenizer,
        video_processor=video_processor,
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(directory)
    # Fichiers séparés, comme dans le dépôt publié (lus par vLLM et transformers).
    image_processor.save_pretrained(directory)
    video_processor.save_pretrained(directory)


def _write_all(directory: Path) -> dict:
    from .tokenizer import SPECIAL_TOKENS, build_tokenizer

    tokenizer = build_tokenizer()
    token_ids = {token: tokenizer.token_to_id(token) for token in SPECIAL_TOKENS}
    # Vocabulaire du modèle arrondi au multiple de 64 supérieur.
    vocab_size = -(-tokenizer.get_vocab_size() // 64) * 64
    _write_model(directory, _config_dict(vocab_size, token_ids))
    _write_processor(directory, tokenizer)
    return {"architecture": ARCHITECTURE, "seed": SEED, "vocab_size": vocab_size}


def build_qwen3_vl(target: Path, force: bool = False) -> Path:
    """Construit le modèle dans `target` (idempotent, atomique) et renvoie son chemin."""
    target = Path(target).expanduser().resolve()
    if force or not is_complete(target, BUILD_VERSION, REQUIRED_FILES):
        build_atomically(target, BUILD_VERSION, REQUIRED_FILES, _write_all)
    return target
