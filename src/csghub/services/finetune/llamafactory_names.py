"""Names LLaMA-Factory 0.9.5 knows, written down so a fine-tune is refused in the hub rather than minutes into
its job: the chat templates it registers (llamafactory/data/template.py), and the linear modules of the model
families whose names we are sure of, which LoRA can target (their nn.Linear, Conv1D and embedding modules in
transformers 5.6's modeling code, the version LLaMA-Factory 0.9.5 installs). Mixture-of-experts models are left
out: transformers 5 fuses their experts into parameters that are no modules."""

from __future__ import annotations

LLAMAFACTORY_VERSION = "0.9.5"

TEMPLATES = frozenset(
    """
    aeva alpaca bailing bailing_v2 breeze chatglm3 chatml chatml_de cohere cpm4 dbrx deepseek deepseek3
    deepseekcoder deepseekr1 default dots_ocr empty ernie ernie_nothink ernie_vl exaone falcon falcon_h1 fewshot
    gemma gemma2 gemma3 gemma3n gemma4 gemma4n glm4 glm4_5v glm4_7 glm4_moe glm4v glm_ocr glmz1 gpt_oss granite3
    granite3_vision granite4 hunyuan hunyuan_small hy3 index intern2 intern_s1 intern_vl keye_vl kimi_vl lfm2
    lfm2_vl llama2 llama2_zh llama3 llama4 llava llava_next llava_next_llama3 llava_next_mistral llava_next_qwen
    llava_next_video llava_next_video_mistral llava_next_video_yi llava_next_yi mimo mimo_v2 mimo_vl minicpm_o
    minicpm_v minicpm_v_4_6 minimax1 minimax2 ministral ministral3 mistral mistral_small mllama moonlight olmo
    openchat openchat-3.6 opencoder paligemma paligemma_chat phi phi4 phi4_mini phi_small pixtral qwen
    qwen2_audio qwen2_omni qwen2_vl qwen3 qwen3_5 qwen3_5_nothink qwen3_6 qwen3_nothink qwen3_omni
    qwen3_omni_nothink qwen3_vl qwen3_vl_nothink sailor seed_coder seed_oss smollm smollm2 solar starchat
    telechat2 vicuna video_llava xuanyuan yi yi_vl youtu youtu_vl yuan zephyr
    """.split()  # noqa: SIM905 (one name a line would be 121 lines)
)

_LLAMA = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "embed_tokens", "lm_head")
_NEOX = ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h")

# model_type (config.json) -> the module names LoRA may target; a model type not listed is not checked.
MODULES: dict[str, frozenset[str]] = {
    **{t: frozenset(_LLAMA) for t in ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2")},
    "phi3": frozenset(("qkv_proj", "o_proj", "gate_up_proj", "down_proj", "embed_tokens", "lm_head")),
    "gpt2": frozenset(("c_attn", "c_proj", "c_fc", "wte", "wpe", "lm_head")),
    "gpt_neox": frozenset((*_NEOX, "embed_in", "embed_out")),
    "opt": frozenset(("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2", "embed_tokens", "lm_head")),
}
