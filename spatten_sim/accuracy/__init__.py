"""Accuracy in the loop: a real model run with the simulator's decisions inside it.

:mod:`~spatten_sim.accuracy.loop` puts the functional phase into a transformers model's attention;
:mod:`~spatten_sim.accuracy.run` measures perplexity (decoders) or embedding agreement and a
linear probe (encoders) and simulates the workload of the same decisions;
:mod:`~spatten_sim.accuracy.metrics` holds the measures. Needs the ``[trace]`` extra.
"""
