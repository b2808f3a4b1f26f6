"""Keys and money: mnemonics, HD derivation, the encrypted vault, keystores, signing.

`wallet` imports none of Hongbao's other packages.
"""
