"""JSON routes: the Hugging Face surface and the CSGHub-native /api/v1."""

from starlette.convertors import register_url_convertor

from csghub.api.paths import RepoTypeConvertor

# Route paths are compiled as their modules are imported: the convertor they name must exist first.
register_url_convertor("repo_type", RepoTypeConvertor())
