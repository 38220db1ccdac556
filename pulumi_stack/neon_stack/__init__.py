"""The neon-checkpoints environment as Pulumi resources: Python dynamic providers over `neon_api`.

Modules inside this package import each other relatively: the Pulumi program imports it as `neon_stack`
(its directory is the program's), the unit tests as `pulumi_stack.neon_stack`.
"""
