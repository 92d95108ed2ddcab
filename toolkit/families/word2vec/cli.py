"""word2vec commands: `toolkit neighbors`, `toolkit analogy`, `toolkit word2vec-eval`.

Each takes a word2vec run folder or a vectors file (word2vec .bin or text), so published vectors
can be queried and scored the same way as the toolkit's own. A gensim .kv file is a pickle, which
runs any code it carries when loaded: it is read only with --allow-pickle, for your own files.
"""

from __future__ import annotations

import math


def _vectors(args):
    from ...embeddings import load_vectors

    return load_vectors(args.vectors, allow_pickle=args.allow_pickle)


def cmd_neighbors(args) -> int:
    from .evaluation import nearest

    vectors = _vectors(args)
    for word in args.words:
        print(f"{word}: " + ", ".join(f"{w} {s:.3f}" for w, s in nearest(vectors, word, args.topn)))
    return 0


def cmd_analogy(args) -> int:
    from .evaluation import solve_analogy

    answers = solve_analogy(_vectors(args), args.a, args.b, args.c, args.topn)
    print(f"{args.a} : {args.b} :: {args.c} : ?")
    for method, label in (("3cosadd", "3CosAdd"), ("3cosmul", "3CosMul")):
        print(f"  {label}: " + ", ".join(f"{w} {s:.3f}" for w, s in answers[method]))
    return 0


def _score(value: float, digits: str = ".3f") -> str:
    return "n/a" if math.isnan(value) else format(value, digits)


def cmd_word2vec_eval(args) -> int:
    from ...rundir import is_run_dir
    from .evaluation import parse_benchmark, run_benchmark

    specs = [f"analogy={p}" for p in args.analogy] + [f"similarity={p}" for p in args.similarity]
    if args.bundled or not specs:
        specs = ["analogy", "similarity", *specs]
    benchmarks = [parse_benchmark(spec) for spec in specs]
    vectors = _vectors(args)
    records = [run_benchmark(vectors, benchmark) for benchmark in benchmarks]
    for record in records:
        m = record["metrics"]
        if record["kind"] == "analogy":
            print(f"{record['benchmark']} (analogy), gensim rule (a question counts when all four words are known): "
                  f"3CosAdd {_score(m['3cosadd'])}, 3CosMul {_score(m['3cosmul'])}, "
                  f"coverage {_score(m['coverage'], '.1%')} ({m['covered']:,} of {m['questions']:,} questions)")
            print(f"    CA8 rule (a question counts when its first three words are known; 3CosMul epsilon 0.01): "
                  f"3CosAdd {_score(m['ca8_3cosadd'])}, 3CosMul {_score(m['ca8_3cosmul'])}, "
                  f"coverage {_score(m['ca8_coverage'], '.1%')} ({m['ca8_covered']:,} of {m['questions']:,} questions)")
            if args.sections:
                for section, s in record["sections"].items():
                    print(f"    {section:28s} 3CosAdd {_score(s['3cosadd'])}  3CosMul {_score(s['3cosmul'])}  "
                          f"coverage {_score(s['coverage'], '.1%')}  |  CA8 3CosAdd {_score(s['ca8_3cosadd'])}  "
                          f"3CosMul {_score(s['ca8_3cosmul'])}  coverage {_score(s['ca8_coverage'], '.1%')}")
        else:
            print(f"{record['benchmark']} (similarity): Spearman {_score(m['spearman'])}, "
                  f"coverage {_score(m['coverage'], '.1%')} ({m['covered']} of {m['pairs']} pairs)")
    if is_run_dir(args.vectors) and not args.no_record:
        from .task import record_evaluations

        record_evaluations(args.vectors, records, vectors)
        print(f"Recorded in {args.vectors}/metrics.json and the model card.")
    return 0


def _add_allow_pickle(parser) -> None:
    parser.add_argument("--allow-pickle", action="store_true",
                        help="also read a gensim .kv file: a pickle, which runs any code it carries, so only "
                             "for files you made yourself")


def register(subparsers) -> None:
    """Add the word2vec commands to the `toolkit` parser."""
    from ...cli.flags import whole_number

    where = "word2vec run folder, or a vectors file (word2vec .bin or text)"
    p = subparsers.add_parser("neighbors", help="nearest words of word2vec vectors")
    p.add_argument("vectors", metavar="RUN_DIR", help=where)
    p.add_argument("words", nargs="+", metavar="WORD")
    p.add_argument("--topn", type=whole_number(1), default=10, help="neighbours per word, at least 1 (default 10)")
    _add_allow_pickle(p)
    p.set_defaults(func=cmd_neighbors)

    p = subparsers.add_parser("analogy", help="solve a : b :: c : ? with word2vec vectors (3CosAdd and 3CosMul)")
    p.add_argument("vectors", metavar="RUN_DIR", help=where)
    p.add_argument("a", help="e.g. 北京")
    p.add_argument("b", help="e.g. 中国")
    p.add_argument("c", help="e.g. 东京 (the answer should be 日本)")
    p.add_argument("--topn", type=whole_number(1), default=5, help="answers per method, at least 1 (default 5)")
    _add_allow_pickle(p)
    p.set_defaults(func=cmd_analogy)

    p = subparsers.add_parser("word2vec-eval", help="score word vectors on analogy / similarity files")
    p.add_argument("vectors", metavar="RUN_DIR", help=where)
    p.add_argument("--analogy", action="append", default=[], metavar="FILE",
                   help="questions-words file (`: section`, then `a b c d`), e.g. CA8; repeatable")
    p.add_argument("--similarity", action="append", default=[], metavar="FILE",
                   help="`w1 w2 score` list, e.g. wordsim-240 or COS960; repeatable")
    p.add_argument("--bundled", action="store_true",
                   help="also the toolkit's own sets (the default when no file is given)")
    p.add_argument("--sections", action="store_true", help="print analogy accuracy per section")
    p.add_argument("--no-record", action="store_true", help="do not append the results to a run folder's metrics")
    _add_allow_pickle(p)
    p.set_defaults(func=cmd_word2vec_eval)
