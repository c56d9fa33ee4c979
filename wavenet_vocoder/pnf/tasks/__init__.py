"""The tasks: one module each, holding its constraint object (what the engine samples) and its
command (:class:`~wavenet_vocoder.pnf.command.TaskCommand`: flags, inputs, outputs, baselines,
metrics, picture). ``wavenet_vocoder/pnf/sgld_*.py`` run them with their editable constants."""
