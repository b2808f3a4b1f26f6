// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title LyingCollection
/// @notice TEST MOCK (local chain only): looks like an ERC-721 (ERC-165 says so, Transfer logs
///         with the token id indexed) but lies. `airdrop` logs a Transfer to anyone; `ownerOf`
///         answers whatever `airdrop` last said; transfers log a Transfer and change nothing, so
///         a wallet that trusts the log (or the call's success) thinks the token moved.
/// @dev No storage of real ownership at all; every function is open to anyone.
contract LyingCollection {
    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);

    mapping(uint256 => address) public claimedOwner;
    string public tokenUriText;

    function airdrop(address to, uint256 id) external {
        claimedOwner[id] = to;
        emit Transfer(address(0), to, id);
    }

    function setTokenURI(string calldata text) external {
        tokenUriText = text;
    }

    function name() external pure returns (string memory) {
        return "Lying Collection";
    }

    function symbol() external pure returns (string memory) {
        return "LIE";
    }

    function supportsInterface(bytes4 id) external pure returns (bool) {
        return id == 0x01ffc9a7 || id == 0x80ac58cd || id == 0x5b5e139f;
    }

    function ownerOf(uint256 id) external view returns (address) {
        return claimedOwner[id];
    }

    function balanceOf(address) external pure returns (uint256) {
        return 1;
    }

    function tokenURI(uint256) external view returns (string memory) {
        return tokenUriText;
    }

    function safeTransferFrom(address from, address to, uint256 id) external {
        emit Transfer(from, to, id);
    }

    function safeTransferFrom(address from, address to, uint256 id, bytes calldata) external {
        emit Transfer(from, to, id);
    }

    function transferFrom(address from, address to, uint256 id) external {
        emit Transfer(from, to, id);
    }
}
