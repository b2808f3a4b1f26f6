// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title Hongbao red packets (红包): ETH or ERC-20 split into shares, claimed by signature.
/// @notice Immutable: no proxy, no owner, no admin.
///
/// Every claim carries an EIP-712 signature by the packet's claim key over
/// Claim(packetId, recipient, slot) in this contract's domain (name "Hongbao RedPacket",
/// version "1", chain id, this address), so it cannot be replayed on another packet,
/// chain or contract, nor redirected to another recipient. Anyone may submit it (a
/// relayer, the sender), and the share always goes to `recipient`.
///
/// Two kinds of packet share that scheme:
/// - authorized (chats): the creator keeps the claim key and signs one authorization per
///   intended recipient with a slot number; a slot is one bit of a shared word, claimed
///   once. Nobody without an authorization can claim, whatever addresses they create.
/// - open: the claim key itself is shared; each address claims at most once.
///
/// Fixed split: each claim pays remaining / sharesLeft, recomputed at every claim, so the
/// shares differ by at most one base unit and every unit is paid out.
///
/// Random split ("lucky draw"): the double-average rule. A share is drawn uniformly from
/// [1, 2 * remaining / sharesLeft) base units and the last share takes what remains, so
/// every share is > 0 and no share exceeds twice the current average. The draw is seeded
/// by block.prevrandao, the packet id, the recipient and the claim index (shares left).
/// Trade-off: prevrandao of the next block is public once the current block is out, so a
/// claimer can compute its draw off-chain and submit only when it likes it (privately, so
/// a pass costs nothing), and with an open packet try many recipient addresses. What
/// bounds this is the rule itself: no draw reaches twice the current average, and nobody
/// can take from shares already claimed. For money that matters, use a fixed split. A
/// commit-reveal or VRF scheme would remove it, at the price of a second transaction per
/// claim or an oracle.
///
/// Optional gas deposit: ETH set aside at creation to reimburse whoever submits a claim,
/// at most min(deposit left / shares left, CLAIM_GAS_ALLOWANCE * tx.gasprice) per claim.
/// What is left goes back to the creator with the refund.
///
/// Fee-on-transfer tokens are accounted by balance difference at creation: the packet
/// holds what actually arrived.
contract RedPacket is EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    bytes32 public constant CLAIM_TYPEHASH = keccak256("Claim(bytes32 packetId,address recipient,uint256 slot)");
    uint256 public constant MAX_SHARES = 500;
    uint256 public constant MAX_DURATION = 365 days;
    uint256 public constant MAX_SLOT = type(uint16).max;
    /// @notice Gas a sponsored claim is reimbursed for, at most (times tx.gasprice).
    uint256 public constant CLAIM_GAS_ALLOWANCE = 100_000;

    uint8 private constant RANDOM = 1;
    uint8 private constant OPEN = 2;
    uint8 private constant TOKEN = 4;
    uint8 private constant REFUNDED = 8;

    // Bit offsets of the State fields in the packed word (remaining is bits 0..95).
    uint256 private constant DEPOSIT_SHIFT = 96;
    uint256 private constant EXPIRY_SHIFT = 176;
    uint256 private constant SHARES_SHIFT = 216;
    uint256 private constant LEFT_SHIFT = 232;
    uint256 private constant FLAGS_SHIFT = 248;

    /// One storage word: everything a claim reads and writes besides the claim key.
    struct State {
        uint96 remaining; // base units still to be claimed (totals are capped below 2^96)
        uint80 deposit; // wei of gas deposit left
        uint40 expiry; // unix seconds; 0 means "no such packet"
        uint16 shares;
        uint16 sharesLeft;
        uint8 flags;
    }

    struct Packet {
        uint256 state; // a packed State: one SLOAD and one SSTORE per claim (see _pack)
        address claimKey;
        address creator;
        address token; // zero for ETH (its slot is then never written)
    }

    struct CreateParams {
        bytes32 nonce; // the creator's choice; id = keccak(chain id, this, creator, nonce)
        address token; // address(0) for ETH
        uint256 total; // base units; for a token, before any transfer fee
        uint256 shares; // 1..500
        uint256 duration; // seconds until expiry, 1..365 days
        address claimKey;
        uint256 deposit; // wei for sponsored claims (msg.value carries it)
        bool random;
        bool open;
        uint32 theme;
        bytes32 greeting; // a short UTF-8 greeting, or a hash of a longer one
    }

    /// @notice What a packet looks like from outside.
    struct PacketView {
        address creator;
        address token;
        address claimKey;
        uint256 remaining;
        uint256 deposit;
        uint256 expiry;
        uint256 shares;
        uint256 sharesLeft;
        bool random;
        bool open;
        bool refunded;
    }

    mapping(bytes32 id => Packet) private _packets;
    mapping(bytes32 id => mapping(uint256 word => uint256 bits)) private _claimedSlots;
    mapping(bytes32 id => mapping(address recipient => uint256 amount)) private _claimedBy;

    event PacketCreated(
        bytes32 indexed id,
        address indexed creator,
        address token,
        uint256 total,
        uint256 shares,
        uint256 expiry,
        bool random,
        bool open,
        address claimKey,
        uint256 deposit,
        uint32 theme,
        bytes32 greeting
    );
    event PacketClaimed(bytes32 indexed id, address indexed recipient, uint256 amount);
    event ClaimReimbursed(bytes32 indexed id, address indexed submitter, uint256 amount);
    event PacketRefunded(bytes32 indexed id, address indexed creator, uint256 amount, uint256 deposit);

    error PacketExists();
    error UnknownPacket();
    error BadShares();
    error TotalBelowShares();
    error AmountTooLarge();
    error BadDuration();
    error NoClaimKey();
    error WrongValue();
    error Expired();
    error Exhausted();
    error AlreadyClaimed();
    error BadSignature();
    error BadSlot();
    error BadRecipient();
    error NotCreator();
    error NotExpired();
    error AlreadyRefunded();
    error NothingToRefund();
    error EthTransferFailed();

    constructor() EIP712("Hongbao RedPacket", "1") {}

    // -- create -------------------------------------------------------------------------

    function create(CreateParams calldata p) external payable nonReentrant returns (bytes32 id) {
        id = packetId(msg.sender, p.nonce);
        Packet storage record = _packets[id];
        if (record.state != 0) revert PacketExists();
        if (p.shares == 0 || p.shares > MAX_SHARES) revert BadShares();
        if (p.duration == 0 || p.duration > MAX_DURATION) revert BadDuration();
        if (p.claimKey == address(0)) revert NoClaimKey();
        if (p.deposit > type(uint80).max) revert AmountTooLarge();

        uint256 total = p.total;
        uint8 flags = (p.random ? RANDOM : 0) | (p.open ? OPEN : 0);
        if (p.token == address(0)) {
            if (msg.value != total + p.deposit) revert WrongValue();
        } else {
            if (msg.value != p.deposit) revert WrongValue();
            IERC20 token = IERC20(p.token);
            uint256 before = token.balanceOf(address(this));
            token.safeTransferFrom(msg.sender, address(this), total);
            total = token.balanceOf(address(this)) - before; // what arrived, fee or not
            flags |= TOKEN;
            record.token = p.token;
        }
        if (total < p.shares) revert TotalBelowShares();
        if (total > type(uint96).max) revert AmountTooLarge();

        uint256 expiry = block.timestamp + p.duration;
        record.state = _pack(State(uint96(total), uint80(p.deposit), uint40(expiry), uint16(p.shares), uint16(p.shares), flags));
        record.claimKey = p.claimKey;
        record.creator = msg.sender;
        _emitCreated(id, p, total, expiry);
    }

    function _emitCreated(bytes32 id, CreateParams calldata p, uint256 total, uint256 expiry) private {
        emit PacketCreated(
            id, msg.sender, p.token, total, p.shares, expiry, p.random, p.open, p.claimKey, p.deposit, p.theme, p.greeting
        );
    }

    // -- claim --------------------------------------------------------------------------

    /// @notice Pay `recipient` one share. `slot` is the recipient's authorization slot for
    /// an authorized packet (ignored for an open one, sign 0). The signature is in the
    /// compact EIP-2098 form (r, yParity and s in `vs`), which saves calldata.
    function claim(bytes32 id, address recipient, uint256 slot, bytes32 r, bytes32 vs)
        external
        nonReentrant
        returns (uint256 amount)
    {
        // The hot path works on the packed word directly (no memory struct): one SLOAD,
        // fields read by shifting, and one SSTORE of `word - amount - reimbursed - 1 share`.
        Packet storage record = _packets[id];
        uint256 word = record.state;
        if (word == 0) revert UnknownPacket();
        if (block.timestamp >= uint40(word >> EXPIRY_SHIFT) || (word >> FLAGS_SHIFT) & REFUNDED != 0) revert Expired();
        if (uint16(word >> LEFT_SHIFT) == 0) revert Exhausted();
        // Paying this contract itself would strand the share outside every packet's books.
        if (recipient == address(0) || recipient == address(this)) revert BadRecipient();
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(CLAIM_TYPEHASH, id, recipient, slot)));
        if (_signer(digest, r, vs) != record.claimKey) revert BadSignature();

        bool open = (word >> FLAGS_SHIFT) & OPEN != 0;
        if (open) {
            if (_claimedBy[id][recipient] != 0) revert AlreadyClaimed();
        } else {
            _takeSlot(id, slot);
        }
        uint256 reimbursed;
        (amount, reimbursed) = _amounts(word, id, recipient);
        unchecked {
            // Each term lowers only its own field: amount <= remaining, reimbursed <=
            // deposit and shares left >= 1, so no borrow crosses a field boundary.
            record.state = word - amount - (reimbursed << DEPOSIT_SHIFT) - (1 << LEFT_SHIFT);
        }
        if (open) _claimedBy[id][recipient] = amount;
        emit PacketClaimed(id, recipient, amount);

        if ((word >> FLAGS_SHIFT) & TOKEN != 0) {
            IERC20(record.token).safeTransfer(recipient, amount);
        } else {
            _sendEth(recipient, amount);
        }
        if (reimbursed != 0) {
            emit ClaimReimbursed(id, msg.sender, reimbursed);
            _sendEth(msg.sender, reimbursed);
        }
    }

    /// The EIP-2098 compact signature's signer, or address(0) if it has none. The precompile
    /// directly, without OpenZeppelin's high-s check: a second signature for the same claim
    /// gains nothing here (the claim is bound to its recipient and taken once), and the
    /// claim key is never address(0) (create refuses it), so a failed recovery never matches.
    function _signer(bytes32 digest, bytes32 r, bytes32 vs) private pure returns (address) {
        bytes32 s = vs & bytes32(0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff);
        uint8 v = uint8((uint256(vs) >> 255) + 27);
        return ecrecover(digest, v, r, s);
    }

    /// Authorized packets: a slot is one bit of a shared word, so only a word's first claim
    /// pays for a fresh storage slot.
    function _takeSlot(bytes32 id, uint256 slot) private {
        if (slot > MAX_SLOT) revert BadSlot();
        uint256 bits = _claimedSlots[id][slot >> 8];
        uint256 bit = 1 << (slot & 255);
        if (bits & bit != 0) revert AlreadyClaimed();
        _claimedSlots[id][slot >> 8] = bits | bit;
    }

    /// This claim's share and gas reimbursement.
    /// Share: the last one takes what remains; fixed = remaining / left (recomputed each
    /// claim, so shares differ by at most one unit); random = the double-average rule, uniform in [1, 2 * remaining / left), seeded
    /// differently for every claim (the recipient and the shares left differ).
    /// Reimbursement: an equal part of the deposit left, but no more than the gas is worth.
    function _amounts(uint256 word, bytes32 id, address recipient)
        private
        view
        returns (uint256 amount, uint256 reimbursed)
    {
        uint256 remaining = uint96(word);
        uint256 left = uint16(word >> LEFT_SHIFT);
        if (left == 1) {
            amount = remaining;
        } else if ((word >> FLAGS_SHIFT) & RANDOM == 0) {
            amount = remaining / left;
        } else {
            uint256 seed;
            assembly ("memory-safe") {
                // (prevrandao xor id, left || recipient) in scratch space: two words that
                // differ for every claim of every packet, hashed without allocating memory.
                mstore(0x00, xor(prevrandao(), id))
                mstore(0x20, or(shl(160, left), recipient))
                seed := keccak256(0x00, 0x40)
            }
            unchecked {
                uint256 ceiling = (2 * remaining) / left; // >= 2 as remaining >= left; < 2^97
                amount = 1 + (seed % (ceiling - 1));
            }
        }
        reimbursed = uint80(word >> DEPOSIT_SHIFT) / left;
        uint256 cap = CLAIM_GAS_ALLOWANCE * tx.gasprice;
        if (reimbursed > cap) reimbursed = cap;
    }

    function _pack(State memory s) private pure returns (uint256) {
        return uint256(s.remaining) | (uint256(s.deposit) << DEPOSIT_SHIFT) | (uint256(s.expiry) << EXPIRY_SHIFT)
            | (uint256(s.shares) << SHARES_SHIFT) | (uint256(s.sharesLeft) << LEFT_SHIFT) | (uint256(s.flags) << FLAGS_SHIFT);
    }

    function _unpack(uint256 word) private pure returns (State memory) {
        return State(
            uint96(word),
            uint80(word >> DEPOSIT_SHIFT),
            uint40(word >> EXPIRY_SHIFT),
            uint16(word >> SHARES_SHIFT),
            uint16(word >> LEFT_SHIFT),
            uint8(word >> FLAGS_SHIFT)
        );
    }

    // -- refund -------------------------------------------------------------------------

    /// @notice After expiry, the creator takes back what is left and the unused deposit.
    function refund(bytes32 id) external nonReentrant {
        Packet storage record = _packets[id];
        State memory s = _unpack(record.state);
        if (s.expiry == 0) revert UnknownPacket();
        if (msg.sender != record.creator) revert NotCreator();
        if (block.timestamp < s.expiry) revert NotExpired();
        if (s.flags & REFUNDED != 0) revert AlreadyRefunded();
        uint256 amount = s.remaining;
        uint256 deposit = s.deposit;
        if (amount == 0 && deposit == 0) revert NothingToRefund();
        s.remaining = 0;
        s.deposit = 0;
        s.flags |= REFUNDED;
        record.state = _pack(s);
        emit PacketRefunded(id, msg.sender, amount, deposit);

        if (s.flags & TOKEN != 0) {
            if (amount != 0) IERC20(record.token).safeTransfer(msg.sender, amount);
            if (deposit != 0) _sendEth(msg.sender, deposit);
        } else {
            _sendEth(msg.sender, amount + deposit);
        }
    }

    // -- views --------------------------------------------------------------------------

    function packetId(address creator, bytes32 nonce) public view returns (bytes32) {
        return keccak256(abi.encode(block.chainid, address(this), creator, nonce));
    }

    function packet(bytes32 id) external view returns (PacketView memory v) {
        Packet storage p = _packets[id];
        State memory s = _unpack(p.state);
        if (s.expiry == 0) revert UnknownPacket();
        v = PacketView(
            p.creator,
            p.token,
            p.claimKey,
            s.remaining,
            s.deposit,
            s.expiry,
            s.shares,
            s.sharesLeft,
            s.flags & RANDOM != 0,
            s.flags & OPEN != 0,
            s.flags & REFUNDED != 0
        );
    }

    /// @notice What `recipient` claimed from an open packet (0 if nothing). Authorized
    /// packets track slots, not addresses: see slotClaimed and the PacketClaimed events.
    function claimedBy(bytes32 id, address recipient) external view returns (uint256) {
        return _claimedBy[id][recipient];
    }

    function slotClaimed(bytes32 id, uint256 slot) external view returns (bool) {
        return _claimedSlots[id][slot >> 8] & (1 << (slot & 255)) != 0;
    }

    /// @notice The EIP-712 digest a claim key signs (for wallets to check their encoding).
    function claimDigest(bytes32 id, address recipient, uint256 slot) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(CLAIM_TYPEHASH, id, recipient, slot)));
    }

    function _sendEth(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert EthTransferFailed();
    }
}
