"""Real sentencepiece models, trained by python3-sentencepiece on a fixed text (deterministic on one thread)."""
import io

WORDS = ("a video of a cat playing with a red ball in the garden at sunset while the camera slowly pans left "
         "translation models read sentences word by word and each piece gets an embedding row").split()


def train(vocab_size, **special_ids):
    """A unigram model of `vocab_size` pieces; `special_ids` as sentencepiece's pad_id, eos_id, unk_id, bos_id."""
    import sentencepiece as spm
    lines = [" ".join(WORDS[(i * 7) % len(WORDS):] + WORDS[:(i * 7) % len(WORDS)]) for i in range(300)]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size,
                                   model_type="unigram", num_threads=1, character_coverage=1.0, minloglevel=2,
                                   **special_ids)
    return model.getvalue()


def pieces(model):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_proto=model)
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
