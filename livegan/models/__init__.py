"""Models: the registry of named weights, the BigGAN and CLIP wrappers, ImageNet names.

Nothing here is imported by the live path except the generator wrapper
(``livegan.models.biggan``) and the registry's generator half.
"""
