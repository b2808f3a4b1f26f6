"""User-facing errors of the wallet.

Every message is one line saying what is wrong and what to do. No message ever
contains a secret (mnemonic, private key, password): callers pass only public facts.
"""


class WalletError(Exception):
    """An error the user can act on; the CLI prints it as one line and exits 1."""


class InvalidMnemonic(WalletError):
    pass


class InvalidPath(WalletError):
    pass


class InvalidAddress(WalletError):
    pass


class InvalidKey(WalletError):
    pass


class WrongPassword(WalletError):
    pass


class VaultCorrupt(WalletError):
    pass


class WalletNotFound(WalletError):
    pass


class WalletExists(WalletError):
    pass


class AccountNotFound(WalletError):
    pass


class KeystoreError(WalletError):
    pass


class SigningError(WalletError):
    pass
