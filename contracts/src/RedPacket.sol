// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title Hongbao red packets (红包): ETH or ERC-20 split into shares, claimed by signature.
/// @notice Immutable: no proxy, no owner, no admin, no immutables (the runtime code is the
/// same on every chain and address, so a client can recognise this contract by its code hash).
///
/// Every claim carries an EIP-712 signature by the packet's claim key over
/// Claim(packetId, recipient, slot) in this contract's domain (name "Hongbao RedPacket",
/// version "2", chain id, this address), so it cannot be replayed on another packet,
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
/// Random split ("lucky draw", authorized packets only): the creator's client draws the
/// split when creating (the double-average rule from a CSPRNG, then shuffled) and the
/// packet stores a commitment to it: the root of a Merkle sum tree over (slot, amount)
/// leaves whose low 96 bits are the sum of the leaves below, checked against the total at
/// create. A claim carries its slot's amount and proof; the contract checks the proof and
/// pays exactly that amount. Whoever submits, whenever, from whichever address, a slot's
/// share is the same: nobody can choose their luck. Open packets cannot be random: the
/// claimer of an open packet would hold every proof and could pick its moment (or slot),
/// so an open packet always splits evenly.
///
/// Optional gas deposit: ETH set aside at creation to reimburse the submitter of a claim
/// when that submitter is the recipient or the creator (a copycat of someone else's claim
/// transaction is paid nothing, so copying one gains nothing). Per claim at most the
/// deposit left / shares left, and at most the gas the claim used (capped at
/// CLAIM_GAS_ALLOWANCE) times min(tx.gasprice, block.basefee + the creator's max tip), so
/// a submitter who proposes the block or bids a huge tip cannot size the bounty. What is
/// left goes back to the creator with the refund.
///
/// Fee-on-transfer tokens are accounted by balance difference at creation: the packet
/// holds what actually arrived (a random split must commit to exactly that).
contract RedPacket is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    bytes32 public constant CLAIM_TYPEHASH = keccak256("Claim(bytes32 packetId,address recipient,uint256 slot)");
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant NAME_HASH = keccak256("Hongbao RedPacket");
    bytes32 private constant VERSION_HASH = keccak256("2");
    uint256 public constant MAX_SHARES = 500;
    uint256 public constant MAX_DURATION = 365 days;
    uint256 public constant MAX_SLOT = type(uint16).max;
    /// @notice Gas a sponsored claim is reimbursed for, at most (times the bounded gas price).
    uint256 public constant CLAIM_GAS_ALLOWANCE = 100_000;
    /// @notice Gas of a claim not seen by gasleft(): the transaction's base cost plus what the
    /// reimbursement itself costs after the measurement (an underestimate, never more).
    uint256 public constant CLAIM_GAS_OVERHEAD = 21_000 + 6_000;

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
    uint256 private constant SUM_MASK = type(uint96).max; // a Merkle sum node: hash (160 bits) | sum (96 bits)

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
        uint96 maxTip; // wei per gas above the base fee a reimbursement pays at most
        address token; // zero for ETH (its slot is then never written)
        bytes32 root; // random split: the Merkle sum root of (slot, amount); else zero
    }

    struct CreateParams {
        bytes32 nonce; // the creator's choice; id = keccak(chain id, this, creator, nonce)
        address token; // address(0) for ETH
        uint256 total; // base units; for a token, before any transfer fee
        uint256 shares; // 1..500
        uint256 duration; // seconds until expiry, 1..365 days
        address claimKey;
        uint256 deposit; // wei for sponsored claims (msg.value carries it)
        uint256 maxTip; // wei per gas above the base fee a reimbursement pays at most
        bool random;
        bool open;
        uint32 theme;
        bytes32 greeting; // a short UTF-8 greeting, or a hash of a longer one
        bytes32 root; // random: the Merkle sum root of the split (its low 96 bits = total)
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
        bytes32 root;
        uint256 maxTip;
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
    error BadSplit();
    error BadProof();

    // -- create -------------------------------------------------------------------------

    function create(CreateParams calldata p) external payable nonReentrant returns (bytes32 id) {
        id = packetId(msg.sender, p.nonce);
        Packet storage record = _packets[id];
        if (record.state != 0) revert PacketExists();
        if (p.shares == 0 || p.shares > MAX_SHARES) revert BadShares();
        if (p.duration == 0 || p.duration > MAX_DURATION) revert BadDuration();
        if (p.claimKey == address(0)) revert NoClaimKey();
        if (p.deposit > type(uint80).max || p.maxTip > type(uint96).max) revert AmountTooLarge();
        // A random split is committed by its root (and only for authorized packets); a fixed one has none.
        if (p.random ? (p.open || p.root == 0) : p.root != 0) revert BadSplit();

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
        if (p.random) {
            // The sum of every leaf is the root's low 96 bits: the split pays out exactly the total.
            if (uint256(p.root) & SUM_MASK != total) revert BadSplit();
            record.root = p.root;
        }

        uint256 expiry = block.timestamp + p.duration;
        record.state = _pack(State(uint96(total), uint80(p.deposit), uint40(expiry), uint16(p.shares), uint16(p.shares), flags));
        record.claimKey = p.claimKey;
        record.creator = msg.sender;
        if (p.maxTip != 0) record.maxTip = uint96(p.maxTip);
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
    /// compact EIP-2098 form (r, yParity and s in `vs`), which saves calldata. `amount` and
    /// `proof` are the slot's committed share and its Merkle sum proof for a random packet
    /// (ignored, and best left 0 and empty, for a fixed one).
    function claim(
        bytes32 id,
        address recipient,
        uint256 slot,
        bytes32 r,
        bytes32 vs,
        uint256 amount,
        bytes32[] calldata proof
    ) external nonReentrant returns (uint256) {
        uint256 start = gasleft();
        uint256 word = _claimable(id, recipient, slot);
        if (_signer(_digest(id, recipient, slot), r, vs) != _packets[id].claimKey) revert BadSignature();
        amount = _settle(id, recipient, slot, word, amount, proof);
        uint256 deposit = uint80(word >> DEPOSIT_SHIFT);
        if (deposit != 0) _reimburse(id, recipient, deposit / uint16(word >> LEFT_SHIFT), start);
        return amount;
    }

    /// The packet's state word if `recipient` may still claim `slot` (else the reason). Taken
    /// shares are refused before the signature is checked: a claim that lost a race costs
    /// its submitter as little as possible.
    function _claimable(bytes32 id, address recipient, uint256 slot) private view returns (uint256 word) {
        word = _packets[id].state;
        if (word == 0) revert UnknownPacket();
        if (block.timestamp >= uint40(word >> EXPIRY_SHIFT) || (word >> FLAGS_SHIFT) & REFUNDED != 0) revert Expired();
        if (uint16(word >> LEFT_SHIFT) == 0) revert Exhausted();
        // Paying this contract itself would strand the share outside every packet's books.
        if (recipient == address(0) || recipient == address(this)) revert BadRecipient();
        if ((word >> FLAGS_SHIFT) & OPEN != 0) {
            if (_claimedBy[id][recipient] != 0) revert AlreadyClaimed();
        } else {
            if (slot > MAX_SLOT) revert BadSlot();
            if (_claimedSlots[id][slot >> 8] & (1 << (slot & 255)) != 0) revert AlreadyClaimed();
        }
    }

    /// Take the share (fixed: remaining / left; random: the slot's committed amount), write
    /// the state with one SSTORE of `word - amount - 1 share`, mark it claimed, pay it.
    function _settle(bytes32 id, address recipient, uint256 slot, uint256 word, uint256 amount, bytes32[] calldata proof)
        private
        returns (uint256)
    {
        Packet storage record = _packets[id];
        if ((word >> FLAGS_SHIFT) & RANDOM != 0) {
            _checkShare(record.root, slot, amount, proof);
            if (amount > uint96(word)) revert BadProof(); // cannot happen with a sum-checked root
        } else {
            uint256 left = uint16(word >> LEFT_SHIFT);
            amount = left == 1 ? uint96(word) : uint96(word) / left;
        }
        unchecked {
            // amount <= remaining and shares left >= 1, so no borrow crosses a field boundary.
            record.state = word - amount - (1 << LEFT_SHIFT);
        }
        if ((word >> FLAGS_SHIFT) & OPEN != 0) _claimedBy[id][recipient] = amount;
        else _claimedSlots[id][slot >> 8] |= 1 << (slot & 255);
        emit PacketClaimed(id, recipient, amount);

        if ((word >> FLAGS_SHIFT) & TOKEN != 0) {
            IERC20(record.token).safeTransfer(recipient, amount);
        } else {
            _sendEth(recipient, amount);
        }
        return amount;
    }

    /// Pay the submitter back for this claim's gas from the deposit, if the submitter is the
    /// recipient or the creator: at most `share` (the deposit left / shares left), at most the
    /// gas used (capped), priced at min(tx.gasprice, block.basefee + the creator's max tip).
    function _reimburse(bytes32 id, address recipient, uint256 share, uint256 start) private {
        Packet storage record = _packets[id];
        if (msg.sender != recipient && msg.sender != record.creator) return;
        uint256 used = start - gasleft() + CLAIM_GAS_OVERHEAD + 4 * msg.data.length;
        if (used > CLAIM_GAS_ALLOWANCE) used = CLAIM_GAS_ALLOWANCE;
        uint256 price = block.basefee + record.maxTip;
        if (tx.gasprice < price) price = tx.gasprice;
        uint256 reimbursed = used * price;
        if (reimbursed > share) reimbursed = share;
        if (reimbursed == 0) return;
        unchecked {
            record.state -= reimbursed << DEPOSIT_SHIFT; // reimbursed <= deposit: no borrow
        }
        emit ClaimReimbursed(id, msg.sender, reimbursed);
        _sendEth(msg.sender, reimbursed);
    }

    /// The EIP-712 digest of Claim(id, recipient, slot) in this contract's domain, computed
    /// in scratch memory (the domain is not cached: no immutables, see the contract notes).
    function _digest(bytes32 id, address recipient, uint256 slot) private view returns (bytes32 digest) {
        bytes32 domain = keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
        bytes32 structHash = keccak256(abi.encode(CLAIM_TYPEHASH, id, recipient, slot));
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), domain)
            mstore(add(ptr, 0x22), structHash)
            digest := keccak256(ptr, 0x42)
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

    /// A random packet's share for `slot` is `amount` only if the Merkle sum proof leads from
    /// the leaf (slot, amount) to the packet's root. Each node is the top 160 bits of the
    /// keccak of its two children (left, right: by the slot's bits) and the sum of their low
    /// 96 bits, so the root commits to every leaf and their sum.
    function _checkShare(bytes32 root, uint256 slot, uint256 amount, bytes32[] calldata proof) private pure {
        if (amount > SUM_MASK) revert BadProof();
        uint256 node = _node(slot, amount, amount);
        uint256 index = slot;
        for (uint256 i; i < proof.length; ++i) {
            uint256 sibling = uint256(proof[i]);
            uint256 sum = (node & SUM_MASK) + (sibling & SUM_MASK);
            if (sum > SUM_MASK) revert BadProof();
            node = index & 1 == 0 ? _node(node, sibling, sum) : _node(sibling, node, sum);
            index >>= 1;
        }
        if (index != 0 || node != uint256(root)) revert BadProof();
    }

    function _node(uint256 a, uint256 b, uint256 sum) private pure returns (uint256 node) {
        bytes32 hash;
        assembly ("memory-safe") {
            mstore(0x00, a)
            mstore(0x20, b)
            hash := keccak256(0x00, 0x40)
        }
        node = (uint256(hash) & ~SUM_MASK) | sum;
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
            s.flags & REFUNDED != 0,
            p.root,
            p.maxTip
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
        return _digest(id, recipient, slot);
    }

    /// @notice The EIP-712 domain (ERC-5267), for wallets that sign typed data.
    function eip712Domain()
        external
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        return (hex"0f", "Hongbao RedPacket", "2", block.chainid, address(this), bytes32(0), new uint256[](0));
    }

    function _sendEth(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert EthTransferFailed();
    }
}
