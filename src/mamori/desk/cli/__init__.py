"""The subcommands of ``mamori desk``, one module per part of the desk.

Each module has ``register(subparsers)``: it adds its subcommands, each with
``set_defaults(handler=function)``; the handler is called as ``handler(options, out)`` (``out``
is the command's stdout) and raises ``CommandError(..., returncode=EXIT_USAGE)`` for a
refusal, one line.
"""

#: The modules of ``mamori desk``, in the order ``mamori desk --help`` lists them.
MODULES = [
    "mamori.desk.cli.queue",  # list, show, new, reply, resolve, close (the queue)
    "mamori.desk.cli.catalogue",  # catalogue, classify, log (scope and work)
    "mamori.desk.cli.mail",  # poll (the desk's mailbox)
    "mamori.desk.cli.hours",  # hours, closed-days (support hours)
    "mamori.desk.cli.waits",  # wait, unanswered, suspend, data-incident
]
