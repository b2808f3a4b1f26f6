// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title NoBoolToken
/// @notice An ERC-20 whose `transfer`, `transferFrom` and `approve` return nothing, like USDT on
///         mainnet. A caller that decodes a `bool` from their return data reverts on it; SafeERC20
///         (which accepts empty return data from a contract) does not. It exists to test those paths.
/// @dev LOCAL-CHAIN TEST TOKEN ONLY: `mint` is open to anyone. Written by hand because
///      OpenZeppelin's ERC20 returns `bool`. Failures revert with a reason string; an allowance of
///      `type(uint256).max` is never spent.
contract NoBoolToken {
    string public name;
    string public symbol;
    uint8 public immutable decimals;
    uint256 public totalSupply;
    mapping(address account => uint256) public balanceOf;
    mapping(address owner => mapping(address spender => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    /// @param name_ token name
    /// @param symbol_ token symbol
    /// @param decimals_ value returned by `decimals()`
    /// @param initialSupply amount (in base units) minted to the deployer
    constructor(string memory name_, string memory symbol_, uint8 decimals_, uint256 initialSupply) {
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
        mint(msg.sender, initialSupply);
    }

    /// @notice Mints `amount` base units to `to`. Open to anyone: this is a local-chain test token.
    function mint(address to, uint256 amount) public {
        require(to != address(0), "NoBoolToken: mint to the zero address");
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    /// @notice Moves `value` from the caller to `to`. Returns nothing (no `bool`).
    function transfer(address to, uint256 value) external {
        _transfer(msg.sender, to, value);
    }

    /// @notice Moves `value` from `from` to `to`, spending the caller's allowance. Returns nothing.
    function transferFrom(address from, address to, uint256 value) external {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= value, "NoBoolToken: insufficient allowance");
            allowance[from][msg.sender] = allowed - value;
        }
        _transfer(from, to, value);
    }

    /// @notice Sets the caller's allowance for `spender` to `value`. Returns nothing.
    function approve(address spender, uint256 value) external {
        require(spender != address(0), "NoBoolToken: approve to the zero address");
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
    }

    function _transfer(address from, address to, uint256 value) private {
        require(to != address(0), "NoBoolToken: transfer to the zero address");
        uint256 balance = balanceOf[from];
        require(balance >= value, "NoBoolToken: insufficient balance");
        unchecked {
            balanceOf[from] = balance - value;
        }
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
