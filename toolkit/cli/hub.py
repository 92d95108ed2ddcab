"""`toolkit push`: upload a run folder to the Hugging Face Hub."""

from __future__ import annotations


def cmd_push(args) -> int:
    from ..hub import push_run

    push_run(args.run_dir, args.repo_id, private=args.private, revision=args.revision,
             commit_message=args.commit_message, dry_run=args.dry_run)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("push", help="upload a run folder to the Hugging Face Hub")
    p.add_argument("run_dir")
    p.add_argument("--repo-id", required=True, help="user/name on the Hub")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--revision", default=None, help="branch to push to")
    p.add_argument("--commit-message", default=None)
    p.add_argument("--dry-run", action="store_true", help="list what would be uploaded, upload nothing")
    p.set_defaults(func=cmd_push)
