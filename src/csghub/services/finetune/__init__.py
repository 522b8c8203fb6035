"""Fine-tuning: training data from dataset repositories, LLaMA-Factory's parameters, and the runs themselves."""
