"""Tokeniseur BPE octet par octet entraîné localement pour les modèles de démo.

Le pipeline (normalisation NFC, découpage par l'expression régulière de Qwen2,
puis ByteLevel) est celui des tokeniseurs Qwen ; seul le vocabulaire diffère :
il est appris en quelques millisecondes sur un petit corpus intégré.
"""

from __future__ import annotations

from tokenizers import (
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    trainers,
)

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# Expression régulière de pré-découpage des tokeniseurs Qwen2/Qwen3.
PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Gabarit ChatML : contenu texte simple ou liste de parties OpenAI
# (« text », « image »/« image_url », « video »/« video_url »).
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string %}"
    "{{- message['content'] }}"
    "{%- elif message['content'] %}"
    "{%- for part in message['content'] %}"
    "{%- if part['type'] in ('image', 'image_url') or 'image' in part"
    " or 'image_url' in part %}"
    "{{- '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{%- elif part['type'] in ('video', 'video_url') or 'video' in part %}"
    "{{- '<|vision_start|><|video_pad|><|vision_end|>' }}"
    "{%- elif 'text' in part %}"
    "{{- part['text'] }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- endif %}"
)

_CORPUS = (
    "Bonjour, je suis un assistant de démonstration. Comment puis-je vous aider ?",
    "La passerelle d'inférence reçoit les requêtes et les transmet aux modèles.",
    "Ce modèle minuscule a des poids aléatoires : ses réponses n'ont aucun sens.",
    "Décrivez l'image suivante en quelques phrases, s'il vous plaît.",
    "La transcription de l'enregistrement audio est disponible ci-dessous.",
    "Le locuteur numéro un parle de la réunion de lundi matin à Paris.",
    "Quelle est la capitale de la France ? La capitale de la France est Paris.",
    "Il fait beau aujourd'hui ; demain, il pleuvra probablement sur Lyon.",
    "Les élèves étudient les mathématiques, l'histoire, la géographie et l'anglais.",
    "Résumez ce document en trois points principaux et proposez un titre.",
    "Voici une photo d'un chat noir assis sur une chaise près de la fenêtre.",
    "Nous avons reçu votre demande et nous vous répondrons très rapidement.",
    "Traduisez cette phrase en anglais : « Le train part à huit heures. »",
    "L'intelligence artificielle transforme la santé, l'éducation et l'industrie.",
    "Merci beaucoup pour votre aide ! Bonne journée et à bientôt.",
    "Le serveur a répondu avec une erreur ; veuillez réessayer plus tard.",
    "Les fichiers de configuration décrivent l'architecture du réseau de neurones.",
    "Une vidéo courte montre une voiture rouge qui traverse un pont en hiver.",
    "Pouvez-vous compter de un à dix ? Un, deux, trois, quatre, cinq, six.",
    "Sept, huit, neuf, dix. Les nombres 2024, 3.14 et 42 apparaissent ici.",
    "Hello, I am a demo assistant. How can I help you today?",
    "The inference gateway receives requests and forwards them to the models.",
    "This tiny model has random weights, so its answers are meaningless.",
    "Please describe the following image in a few sentences.",
    "The transcript of the audio recording is available below.",
    "Speaker one talks about the Monday morning meeting in London.",
    "What is the capital of England? The capital of England is London.",
    "It is sunny today; tomorrow it will probably rain in Manchester.",
    "Students learn mathematics, history, geography and French at school.",
    "Summarize this document in three key points and suggest a title.",
    "Here is a picture of a black cat sitting on a chair near the window.",
    "We have received your request and will answer you very quickly.",
    "Translate this sentence into French: 'The train leaves at eight o'clock.'",
    "Artificial intelligence is changing healthcare, education and industry.",
    "Thank you very much for your help! Have a nice day and see you soon.",
    "The server returned an error; please try again later.",
    "Configuration files describe the architecture of the neural network.",
    "A short video shows a red car crossing a bridge in winter.",
    "Can you count from one to ten? One, two, three, four, five, six.",
    "Seven, eight, nine, ten. The numbers 2024, 3.14 and 42 appear here.",
    "def main():\n    print('Bonjour le monde')\n    return 0\n",
    '{"role": "user", "content": "Quel temps fait-il ?"}',
)


def build_tokenizer(vocab_size: int = 2048) -> Tokenizer:
    """Entraîne le tokeniseur BPE (déterministe) et ajoute les jetons spéciaux.

    Les jetons spéciaux sont ajoutés après l'entraînement : ils occupent,
    comme chez Qwen, les derniers identifiants du vocabulaire.
    """
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Le corpus est répété pour donner des fréquences stables aux paires.
    tokenizer.train_from_iterator(list(_CORPUS) * 4, trainer=trainer)
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    return tokenizer
