// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";

/// @title TestCollection
/// @notice ERC-721 collection standing in for a real one on the local chain (anvil): game items,
///         art, tickets. Token ids count up from 1.
/// @dev LOCAL-CHAIN TEST COLLECTION ONLY: `mint` is open to anyone and anyone may give a token any
///      URI string (which is also how tests hand the wallet a hostile `tokenURI`). Never deploy it
///      where its tokens are meant to carry value.
contract TestCollection is ERC721URIStorage {
    uint256 public totalMinted;

    constructor(string memory name_, string memory symbol_) ERC721(name_, symbol_) {}

    /// @notice Mints the next token id to `to` (no URI) and returns it. Open to anyone.
    function mint(address to) external returns (uint256 id) {
        id = ++totalMinted;
        _mint(to, id);
    }

    /// @notice Mints the next token id to `to` with `uri` as its tokenURI and returns it. Open to anyone.
    function mintWithURI(address to, string calldata uri) external returns (uint256 id) {
        id = ++totalMinted;
        _mint(to, id);
        _setTokenURI(id, uri);
    }
}
