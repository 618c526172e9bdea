"""Loaders and tasks on tiny generated fixtures of every format: MNIST pickle and IDX, aclImdb folder,
Keras imdb.npz, GLUE TSVs, the two stand-in files, ptb.*.txt; and the clear errors."""

from __future__ import annotations

import bz2
import csv
import dataclasses
import io

import numpy as np
import pytest
import torch
from _notebook_helpers import idx_bytes
from test_datasets import make_mnist_pickle, register_fake_mnist

from qornn import datasets, results
from qornn.datasets import DataError
from qornn.tasks import TASKS, build_task
from qornn.tasks.mnist import PMNIST_SEED, pmnist_permutation
from qornn.tasks.ptb import EOS, char_stream, word_stream
from qornn.tasks.text import OOV, PAD, SEP, START, build_vocab, encode, pad_last, tokenize

ENV = ("QORNN_MNIST", "QORNN_IMDB", "QORNN_GLUE_SST2", "QORNN_GLUE_QQP", "QORNN_PTB",
       "QORNN_POLARITY_REVIEWS", "QORNN_RT_SNIPPETS")
SPLITS = ("train", "val", "test")


@pytest.fixture(autouse=True)
def no_user_data(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_mnist(monkeypatch):
    data = make_mnist_pickle(30, 10, 10)
    register_fake_mnist(monkeypatch, data)
    results.atomic_write_bytes(datasets.cache_dir() / "mnist.pkl.gz", data)
    return data


def sizes(task):
    return {s: task.num_samples(s) for s in SPLITS}


# ------------------------------------------------------------------------------------ registry

def test_tasks_are_registered_and_unknown_names_listed():
    for name in ("smnist", "pmnist", "imdb", "polarity-reviews", "sst2", "rt-snippets", "qqp",
                 "ptb-char", "ptb-word", "iot"):
        assert name in TASKS
    assert TASKS["polarity-reviews"].stand_in_for == "imdb"
    assert TASKS["rt-snippets"].stand_in_for == "sst2"
    assert TASKS["imdb"].stand_in_for is None
    with pytest.raises(ValueError, match="unknown task 'mnist'.*pmnist.*smnist"):
        build_task("mnist")


def test_bad_option_is_a_clear_error(fake_mnist):
    with pytest.raises(ValueError, match="bad options for task 'smnist'"):
        build_task("smnist", colour=True)


# -------------------------------------------------------------------------------------- MNIST

def test_sequential_mnist_shapes_dtypes_and_splits(fake_mnist):
    task = build_task("smnist", seed=3)
    assert sizes(task) == {"train": 30, "val": 10, "test": 10}
    assert (task.input_size, task.output_size, task.many_to_many) == (1, 10, False)
    assert task.primary_metric == "accuracy" and task.higher_is_better
    x, y = task.batch("train", torch.arange(5))
    assert x.shape == (5, 784, 1) and x.dtype == torch.float32
    assert y.shape == (5,) and y.dtype == torch.int64
    # Values and order are the pickle's own (row-major pixels, p/256).
    import gzip as gz
    import pickle

    with gz.open(datasets.cache_dir() / "mnist.pkl.gz") as f:
        (xtr, ytr), _, (xte, yte) = pickle.load(f, encoding="latin1")
    assert torch.equal(x[..., 0], torch.from_numpy(xtr[:5]))
    assert torch.equal(y, torch.from_numpy(ytr[:5]))
    xt, yt = task.batch("test", torch.arange(10))
    assert torch.equal(xt[..., 0], torch.from_numpy(xte)) and torch.equal(yt, torch.from_numpy(yte))
    logits = torch.zeros(5, 10)
    logits[torch.arange(5), y] = 1.0
    assert task.metrics(logits, y)["accuracy"] == 1.0
    assert task.baselines()["chance_accuracy"] == 0.1


def test_mnist_subsets_take_the_first_samples(fake_mnist):
    full = build_task("smnist")
    small = build_task("smnist", train_size=7, val_size=3, test_size=2)
    assert sizes(small) == {"train": 7, "val": 3, "test": 2}
    assert torch.equal(small.batch("train", torch.arange(7))[0], full.batch("train", torch.arange(7))[0])
    with pytest.raises(ValueError, match="train_size=31 exceeds the 30"):
        build_task("smnist", train_size=31)
    with pytest.raises(ValueError, match="positive int"):
        build_task("smnist", val_size=0)


def test_permutation_convention_is_randomstate_92916():
    perm = pmnist_permutation()
    assert PMNIST_SEED == 92916
    assert np.array_equal(perm, np.random.RandomState(92916).permutation(784))
    assert sorted(perm.tolist()) == list(range(784))
    assert perm[:10].tolist() == [319, 576, 323, 107, 355, 716, 197, 20, 625, 60]  # pinned


def test_permuted_mnist_reads_pixel_perm_t_at_step_t(fake_mnist):
    seq = build_task("smnist")
    per_a, per_b = build_task("pmnist", seed=0), build_task("pmnist", seed=1)
    perm = torch.from_numpy(pmnist_permutation())
    for split in SPLITS:
        index = torch.arange(seq.num_samples(split))
        xs, ys = seq.batch(split, index)
        xa, ya = per_a.batch(split, index)
        assert torch.equal(xa, xs[:, perm])  # x_permuted[:, t] = x[:, perm[t]]
        assert torch.equal(xa[:, 5, 0], xs[:, perm[5], 0])
        assert torch.equal(ya, ys)
        assert torch.equal(per_b.batch(split, index)[0], xa)  # the same for every seed


def test_mnist_from_user_idx_files(tmp_path):
    rng = np.random.RandomState(1)
    xtr, ytr = rng.randint(0, 256, (12, 28, 28)), np.arange(12) % 10
    xte, yte = rng.randint(0, 256, (5, 28, 28)), np.arange(5)
    for name, arr in (("train-images-idx3-ubyte.gz", xtr), ("train-labels-idx1-ubyte.gz", ytr),
                      ("t10k-images-idx3-ubyte.gz", xte), ("t10k-labels-idx1-ubyte.gz", yte)):
        (tmp_path / name).write_bytes(idx_bytes(arr))
    task = build_task("smnist", path=str(tmp_path))
    assert sizes(task) == {"train": 10, "val": 2, "test": 5}  # first 5/6 of train, last 1/6 as val
    x, y = task.batch("val", torch.arange(2))
    assert torch.equal(x[..., 0], torch.from_numpy(xtr[10:].reshape(2, 784) / 256.0).float())
    assert y.tolist() == ytr[10:].tolist()
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        build_task("smnist", path=str(tmp_path))


def test_mnist_user_pickle_must_have_the_pinned_hash(tmp_path):
    file = tmp_path / "mnist.pkl.gz"
    file.write_bytes(make_mnist_pickle())
    with pytest.raises(DataError, match="never unpickled unverified"):
        build_task("pmnist", path=str(file))


def test_mnist_missing_names_the_command():
    with pytest.raises(DataError, match="mnist.pkl.gz.*qornn fetch mnist"):
        build_task("pmnist")


# -------------------------------------------------------------------------------- text helpers

def test_tokenize_vocab_encode_and_pad_last():
    assert tokenize("A <br /><br />Great film, isn't it?") == ["a", "great", "film", "isn't", "it"]
    vocab = build_vocab([["b", "a", "b"], ["c", "a", "b"]], num_words=5)
    assert vocab == {"b": 3, "a": 4}  # 5 ids: pad, start, oov + 2 words, by frequency
    assert encode(["a", "zzz", "b"], vocab) == [START, 4, OOV, 3]
    out = pad_last([[1, 2, 3, 4, 5], [7]], 3)
    assert out.tolist() == [[3, 4, 5], [PAD, PAD, 7]]  # keep the LAST tokens, pad in front
    assert out.dtype == np.int32


# --------------------------------------------------------------------------------------- IMDB

def _acl_tree(root):
    reviews = {
        ("train", "pos"): ["good good fine", "a good film", "fine acting good", "great great great"],
        ("train", "neg"): ["bad film", "awful bad<br />bad", "a bad bad plot", "dull"],
        ("test", "pos"): ["good", "great film", "fine"],
        ("test", "neg"): ["bad", "awful", "dull plot"],
    }
    for (split, label), texts in reviews.items():
        d = root / "aclImdb" / split / label
        d.mkdir(parents=True)
        for i, text in enumerate(texts):
            (d / f"{i}_{7 if label == 'pos' else 2}.txt").write_text(text)
    return root / "aclImdb", reviews


def test_imdb_from_an_aclimdb_folder(tmp_path):
    folder, reviews = _acl_tree(tmp_path)
    task = build_task("imdb", path=str(folder), num_words=6, maxlen=3)
    assert sizes(task) == {"train": 8, "val": 3, "test": 3}  # val = last half of test, test = first half
    assert task.input_size == 6 and task.output_size == 1 and not task.many_to_many
    x, y = task.batch("train", torch.arange(8))
    assert x.shape == (8, 3) and x.dtype == torch.int64 and y.dtype == torch.int64
    assert int(x.max()) < 6
    # Expected rows: files in (neg, pos) x id order, shuffled by RandomState(113) as Keras does.
    texts = reviews[("train", "neg")] + reviews[("train", "pos")]
    labels = [0] * 4 + [1] * 4
    rng = np.random.RandomState(113)
    order = np.arange(8)
    rng.shuffle(order)
    test_order = np.arange(6)
    rng.shuffle(test_order)
    vocab = build_vocab([tokenize(texts[i]) for i in order], 6)
    assert len(vocab) == 3  # 6 ids - pad, start, oov
    expected = pad_last([encode(tokenize(texts[i]), vocab) for i in order], 3)
    assert x.tolist() == expected.tolist()
    assert y.tolist() == [labels[i] for i in order]
    test_labels = ([0] * 3 + [1] * 3)
    shuffled = [test_labels[i] for i in test_order]
    assert task.batch("test", torch.arange(3))[1].tolist() == shuffled[:3]
    assert task.batch("val", torch.arange(3))[1].tolist() == shuffled[3:]
    assert "aclImdb" in task.data_source


def _keras_npz(tmp_path):
    x_train = np.empty(4, dtype=object)
    x_train[:] = [[1, 2, 3, 9, 8], [4], [5, 6], [1, 1, 1, 1, 1, 1, 2]]
    x_test = np.empty(4, dtype=object)
    x_test[:] = [[2], [3, 3], [7, 1], [6]]
    file = tmp_path / "imdb.npz"
    np.savez(file, x_train=x_train, y_train=np.array([1, 0, 1, 0]), x_test=x_test,
             y_test=np.array([0, 1, 1, 0]))
    return file, x_train, x_test


def test_imdb_from_a_keras_npz_matches_keras_load_data_and_pad_sequences(tmp_path):
    file, x_train, x_test = _keras_npz(tmp_path)
    task = build_task("imdb", path=str(file), npz_sha256=datasets.sha256_file(file), num_words=10, maxlen=4)
    rng = np.random.RandomState(113)
    o_tr = np.arange(4)
    rng.shuffle(o_tr)
    o_te = np.arange(4)
    rng.shuffle(o_te)

    def keras(seq):  # start_char=1, index_from=3, oov_char=2 for ids >= num_words; keep the last 4
        ids = [START] + [w + 3 if w + 3 < 10 else OOV for w in seq]
        ids = ids[-4:]
        return [PAD] * (4 - len(ids)) + ids

    x, y = task.batch("train", torch.arange(4))
    assert x.tolist() == [keras(x_train[i]) for i in o_tr]
    assert y.tolist() == [[1, 0, 1, 0][i] for i in o_tr]
    xt, _ = task.batch("test", torch.arange(2))
    xv, _ = task.batch("val", torch.arange(2))
    assert xt.tolist() == [keras(x_test[i]) for i in o_te[:2]]  # first half of test
    assert xv.tolist() == [keras(x_test[i]) for i in o_te[2:]]  # last half of test


def test_imdb_npz_with_another_hash_is_not_loaded(tmp_path):
    file, _, _ = _keras_npz(tmp_path)
    with pytest.raises(DataError, match="Keras pins for imdb.npz"):
        build_task("imdb", path=str(file))


class _OpensAFile:
    """Unpickling this creates a marker file: proof that the pickle inside an npz was loaded."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_an_imdb_npz_that_runs_code_is_refused_even_unverified(tmp_path):
    marker = tmp_path / "unpickled"
    x = np.empty(1, dtype=object)
    x[0] = _OpensAFile(str(marker))
    file = tmp_path / "imdb.npz"
    np.savez(file, x_train=x, y_train=np.array([1]), x_test=x, y_test=np.array([0]))
    with pytest.raises(DataError, match="open when unpickled.*refused"):
        build_task("imdb", path=str(file), npz_sha256=None)
    assert not marker.exists()
    (tmp_path / "short.npz").write_bytes(b"PK not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        build_task("imdb", path=str(tmp_path / "short.npz"), npz_sha256=None)
    np.savez(tmp_path / "other.npz", x_train=np.arange(3))
    with pytest.raises(DataError, match="lacks the arrays x_test, y_test, y_train"):
        build_task("imdb", path=str(tmp_path / "other.npz"), npz_sha256=None)


def test_a_stand_in_file_that_is_not_there_names_where_it_was_given(monkeypatch, tmp_path):
    missing = tmp_path / "x.csv"
    monkeypatch.setenv("QORNN_RT_SNIPPETS", str(missing))
    with pytest.raises(DataError, match=f"{missing}, given by the environment variable QORNN_RT_SNIPPETS, "
                                        "is not a file.*qornn fetch rt-snippets"):
        build_task("rt-snippets")
    with pytest.raises(DataError, match=f"{missing}, given by the task option path, is not a file"):
        build_task("polarity-reviews", path=str(missing))


def test_imdb_without_data_points_at_the_stand_in_and_the_option(monkeypatch, tmp_path):
    with pytest.raises(DataError, match="not available on this machine.*QORNN_IMDB.*polarity-reviews"):
        build_task("imdb")
    monkeypatch.setenv("QORNN_IMDB", str(tmp_path / "imdb.txt"))
    (tmp_path / "imdb.txt").write_text("x")
    with pytest.raises(DataError, match="neither an aclImdb folder nor an imdb.npz"):
        build_task("imdb")


# ---------------------------------------------------------------------------------- stand-ins

def test_polarity_reviews_stand_in(tmp_path):
    file = tmp_path / "reviews.csv"
    rows = [(1 if i % 2 else -1, " ".join(["great" if i % 2 else "bad"] * (i + 1) + ["film"] * 3))
            for i in range(30)]
    with open(file, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows(rows)
    task = build_task("polarity-reviews", path=str(file), maxlen=5)
    assert sizes(task) == {"train": 20, "val": 5, "test": 5}
    assert task.input_size == 10_000 and task.stand_in_for == "imdb"
    assert "STAND-IN for IMDB" in task.data_source
    x, y = task.batch("train", torch.arange(20))
    assert x.shape == (20, 5)
    total = sum(task.batch(s, torch.arange(task.num_samples(s)))[1].sum().item() for s in SPLITS)
    assert total == 15


def test_stand_ins_need_their_fetch():
    with pytest.raises(DataError, match="pang_lee_polarity_reviews.csv.*qornn fetch polarity-reviews"):
        build_task("polarity-reviews")
    with pytest.raises(DataError, match="rotten_tomatoes_corpus_full.csv.bz2.*qornn fetch rt-snippets"):
        build_task("rt-snippets")


def test_stand_ins_read_another_copy_from_the_environment(tmp_path, monkeypatch):
    from _notebook_helpers import write_polarity_reviews, write_rt_snippets

    monkeypatch.setenv("QORNN_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("QORNN_POLARITY_REVIEWS", str(write_polarity_reviews(tmp_path / "r.csv", n=60)))
    monkeypatch.setenv("QORNN_RT_SNIPPETS", str(write_rt_snippets(tmp_path / "s.csv.bz2", n=50)))
    assert sizes(build_task("polarity-reviews")) == {"train": 40, "val": 10, "test": 10}
    assert sizes(build_task("rt-snippets")) == {"train": 40, "val": 5, "test": 5}


def test_rt_snippets_stand_in_from_the_cache(monkeypatch):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["category", "text", "movie_name", "has_plot_and_reviews"])
    for i in range(18):
        good = bool(i % 3)
        word = "good" if good else "bad"
        w.writerow(["fresh" if good else "rotten", f"snippet number {i} is {word}", "m", "1"])
    w.writerow(["plot", "a plot summary", "m", "1"])
    w.writerow(["fresh", "snippet number 1 is good", "m", "1"])  # duplicate: kept once
    w.writerow(["fresh", "contested", "m", "1"])
    w.writerow(["rotten", "contested", "m", "1"])  # seen with both labels: dropped
    data = bz2.compress(buf.getvalue().encode())
    real = datasets.SOURCES["rt-snippets"]
    entry = dataclasses.replace(real.files[0], sha256=datasets.sha256_bytes(data))
    monkeypatch.setitem(datasets.SOURCES, "rt-snippets", dataclasses.replace(real, files=(entry,)))
    results.atomic_write_bytes(datasets.cache_dir() / entry.name, data)
    task = build_task("rt-snippets", maxlen=8)
    assert sum(sizes(task).values()) == 18
    assert sizes(task) == {"train": 14, "val": 2, "test": 2}
    assert task.stand_in_for == "sst2" and "STAND-IN for SST-2" in task.data_source
    x, _ = task.batch("val", torch.arange(2))
    assert x.shape == (2, 8) and (x[:, 0] == PAD).all()  # short snippets are padded in front


# --------------------------------------------------------------------------------------- GLUE

def _tsv(path, header, rows):
    path.write_text("\n".join("\t".join(map(str, r)) for r in [header, *rows]) + "\n")


def test_sst2_from_glue_tsvs(tmp_path):
    train = [(f'a "quoted" {"good" if i % 2 else "bad"} movie {i}', i % 2) for i in range(10)]
    dev = [("good", 1), ("bad", 0), ("a good movie", 1), ("a bad one", 0)]
    _tsv(tmp_path / "train.tsv", ["sentence", "label"], train)
    _tsv(tmp_path / "dev.tsv", ["sentence", "label"], dev)
    task = build_task("sst2", path=str(tmp_path), maxlen=6)
    assert sizes(task) == {"train": 6, "val": 4, "test": 4}  # val held out of train, test = dev
    xt, yt = task.batch("test", torch.arange(4))
    assert yt.tolist() == [1, 0, 1, 0] and xt.shape == (4, 6)
    assert xt[0, -2:].tolist()[0] == START
    assert build_task("sst2", path=str(tmp_path), holdout=2).num_samples("train") == 8


def test_qqp_pairs_and_malformed_rows(tmp_path):
    header = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]
    rows = [(i, 2 * i, 2 * i + 1, f"how do i learn {i}", f"how to learn {i}", i % 2) for i in range(8)]
    _tsv(tmp_path / "train.tsv", header, rows)
    with open(tmp_path / "train.tsv", "a") as f:
        f.write("99\tbroken row\n")
    _tsv(tmp_path / "dev.tsv", header, rows[:3])
    task = build_task("qqp", path=str(tmp_path), maxlen=16)
    assert task.skipped_rows == 1
    assert sizes(task) == {"train": 5, "val": 3, "test": 3}
    x, y = task.batch("test", torch.arange(3))
    row = x[0].tolist()
    k = row.index(SEP)
    assert row[k + 1] == SEP and SEP not in row[:k] and row.count(SEP) == 2
    assert y.tolist() == [0, 1, 0]


def test_qqp_and_sst2_without_data_are_unavailable(tmp_path):
    with pytest.raises(DataError, match="QQP .*unavailable here.*GLUE QQP"):
        build_task("qqp")
    with pytest.raises(DataError, match="SST-2.*not available.*rt-snippets"):
        build_task("sst2")
    with pytest.raises(DataError, match="GLUE file .*train.tsv does not exist"):
        build_task("qqp", path=str(tmp_path))


def test_iot_is_reported_as_unidentified():
    with pytest.raises(DataError, match="IoT benchmarks are not named"):
        build_task("iot")


# ---------------------------------------------------------------------------------------- PTB

PTB_TEXT = {
    "train": " the cat sat on the mat \n the dog ate a bone \n a cat and a dog \n",
    "valid": " the dog sat \n a cat ate \n",
    "test": " the mat and a bone \n",
}


def _ptb(tmp_path):
    for name, text in PTB_TEXT.items():
        (tmp_path / f"ptb.{name}.txt").write_text(text)
    return tmp_path


def test_stream_construction():
    assert char_stream(" ab cd \n e \n") == ["a", "b", "_", "c", "d", EOS, "e", EOS]
    assert word_stream(" ab cd \n e \n") == ["ab", "cd", EOS, "e", EOS]


def test_ptb_char_task(tmp_path):
    task = build_task("ptb-char", path=str(_ptb(tmp_path)), seq_len=8)
    stream = char_stream(PTB_TEXT["train"])
    chars = sorted(set("".join(PTB_TEXT["train"].split())) | {"_"})
    assert task.vocab == chars + [EOS]  # characters sorted, <eos> last
    assert task.input_size == task.output_size == len(chars) + 1
    assert task.many_to_many and task.primary_metric == "bpc" and not task.higher_is_better
    assert task.num_tokens("train") == len(stream)
    assert task.num_samples("train") == (len(stream) - 1) // 8
    x, y = task.batch("train", torch.arange(task.num_samples("train")))
    assert x.dtype == torch.int64 and x.shape == (task.num_samples("train"), 8)
    ids = [task.vocab.index(t) for t in stream]
    assert x[1].tolist() == ids[8:16] and y[1].tolist() == ids[9:17]  # targets shifted by one
    assert torch.equal(y[:, :-1], x[:, 1:])
    m = task.metrics(torch.zeros(2, 8, task.output_size), y[:2])
    assert m["bpc"] == pytest.approx(np.log2(task.output_size))
    assert task.baselines()["uniform_bpc"] == pytest.approx(np.log2(task.output_size))


def test_ptb_word_task_and_mikolov_char_files(tmp_path):
    _ptb(tmp_path)
    word = build_task("ptb-word", path=str(tmp_path), seq_len=4)
    assert word.vocab[:3] == [EOS, "a", "the"]  # by frequency (3 each here), ties alphabetical
    assert word.input_size == len(set(word_stream(PTB_TEXT["train"])))
    assert word.num_tokens("test") == 6 and word.num_samples("test") == 1
    assert word.primary_metric == "bits_per_word"
    for name, text in PTB_TEXT.items():
        spaced = "\n".join(" ".join("_".join(line.split())) for line in text.splitlines()) + "\n"
        (tmp_path / f"ptb.char.{name}.txt").write_text(spaced)
    from_char_files = build_task("ptb-char", path=str(tmp_path), seq_len=8)
    (tmp_path / "ptb.char.test.txt").unlink()  # incomplete set: the word files are used
    derived = build_task("ptb-char", path=str(tmp_path), seq_len=8)
    assert "ptb.char." in from_char_files.data_source and "ptb.char." not in derived.data_source
    assert from_char_files.vocab == derived.vocab
    n = from_char_files.num_samples("train")
    assert torch.equal(from_char_files.batch("train", torch.arange(n))[0],
                       derived.batch("train", torch.arange(n))[0])


def test_ptb_errors(tmp_path):
    with pytest.raises(DataError, match="ptb.train.txt.*qornn fetch ptb"):
        build_task("ptb-char")
    (tmp_path / "ptb.train.txt").write_text(PTB_TEXT["train"])
    with pytest.raises(DataError, match="ptb.valid.txt not found"):
        build_task("ptb-word", path=str(tmp_path))
    (tmp_path / "ptb.valid.txt").write_text(" zebra \n")
    (tmp_path / "ptb.test.txt").write_text(PTB_TEXT["test"])
    with pytest.raises(DataError, match="absent from the training vocabulary.*zebra"):
        build_task("ptb-word", path=str(tmp_path), seq_len=2)
    (tmp_path / "ptb.valid.txt").write_text(" the \n")
    with pytest.raises(DataError, match="PTB train: 19 tokens, fewer than seq_len"):
        build_task("ptb-word", path=str(tmp_path))


# --------------------------------------------------------------------- the tasks feed the models

def test_tasks_train_a_model_one_step(tmp_path, fake_mnist):
    from qornn.models import build_model
    from qornn.train import evaluate

    _tsv(tmp_path / "train.tsv", ["sentence", "label"], [(f"w{i} good", i % 2) for i in range(8)])
    _tsv(tmp_path / "dev.tsv", ["sentence", "label"], [("good", 1), ("bad", 0)])
    (tmp_path / "ptb").mkdir()
    tasks = [build_task("pmnist", train_size=4), build_task("sst2", path=str(tmp_path), maxlen=5),
             build_task("ptb-char", path=str(_ptb(tmp_path / "ptb")), seq_len=8)]
    for task in tasks:
        model = build_model("hadamrnn", input_size=task.input_size, output_size=task.output_size,
                            hidden_size=8, many_to_many=task.many_to_many)
        x, y = task.batch("train", torch.arange(2))
        loss = task.loss(model(x), y)
        loss.backward()
        assert torch.isfinite(loss)
        metrics = evaluate(model, task, "val", 2, torch.device("cpu"))
        assert task.primary_metric in metrics


def test_text_tasks_are_deterministic(tmp_path):
    folder, _ = _acl_tree(tmp_path)
    a = build_task("imdb", path=str(folder), seed=0)
    b = build_task("imdb", path=str(folder), seed=5)
    for split in SPLITS:
        index = torch.arange(a.num_samples(split))
        assert torch.equal(a.batch(split, index)[0], b.batch(split, index)[0])
