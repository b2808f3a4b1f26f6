// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ReentrantClaimer
/// @notice TEST MOCK (local chain only): a hostile contract that receives ETH from RedPacket (as a
///         claim recipient, or as a packet creator getting a refund) and, inside `receive()`,
///         replays calls it was armed with against the target: typically a second claim with
///         another valid authorization it holds, and a refund.
/// @dev Two modes. `swallow == false`: a failed re-entry is bubbled up, so `receive()` reverts
///      and the sender's ETH transfer fails. `swallow == true`: failures are recorded
///      (`reentryFailures`, `lastError`) and the ETH is accepted. The arming is used once (it is
///      cleared before the calls are replayed, so a successful re-entry cannot loop).
///      `rejectAll` makes `receive()` refuse every payment. Only the deployer may arm or
///      `execute`, so nobody else can drive it.
contract ReentrantClaimer {
    address public immutable owner;
    address public target;
    bool public swallow;
    bool public rejectAll;
    bytes[] private _calls;

    uint256 public received; // wei received through receive()
    uint256 public payments; // times receive() accepted ETH
    uint256 public reentrySuccesses; // re-entering calls that succeeded
    uint256 public reentryFailures; // re-entering calls that reverted (swallow mode)
    bytes public lastError; // revert data of the last swallowed failure

    constructor() {
        owner = msg.sender;
    }

    modifier onlyOwner() {
        require(msg.sender == owner, "ReentrantClaimer: not owner");
        _;
    }

    /// @notice On the next ETH received, call `target_` with each of `calls` (value 0).
    function arm(address target_, bytes[] calldata calls, bool swallow_) external onlyOwner {
        target = target_;
        swallow = swallow_;
        delete _calls;
        for (uint256 i = 0; i < calls.length; i++) {
            _calls.push(calls[i]);
        }
    }

    function setRejectAll(bool reject) external onlyOwner {
        rejectAll = reject;
    }

    /// @notice Make a call as this contract (create a packet, ask for a refund, ...); a revert is
    ///         bubbled up unchanged.
    function execute(address to, uint256 value, bytes calldata data) external payable onlyOwner returns (bytes memory) {
        (bool ok, bytes memory ret) = to.call{value: value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }

    receive() external payable {
        require(!rejectAll, "ReentrantClaimer: rejecting ETH");
        received += msg.value;
        payments += 1;
        address to = target;
        if (to == address(0)) return;
        target = address(0); // one shot
        bytes[] memory calls = _calls;
        delete _calls;
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok, bytes memory ret) = to.call(calls[i]);
            if (ok) {
                reentrySuccesses += 1;
            } else if (swallow) {
                reentryFailures += 1;
                lastError = ret;
            } else {
                assembly ("memory-safe") {
                    revert(add(ret, 32), mload(ret))
                }
            }
        }
    }
}
