// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.26;

/// @title AuditAnchor: the platform operator records signed tree heads of its audit log.
/// @notice Tree sizes only grow, so a recorded (size, root) can never be replaced: a rewritten
///         history would need a different root for a size that is already on chain.
contract AuditAnchor {
    address public immutable operator;
    uint256 public latestTreeSize;
    bytes32 public latestRoot;
    mapping(uint256 => bytes32) public rootAt;

    event Anchored(uint256 indexed treeSize, bytes32 root, uint256 timestamp);

    error NotOperator(address caller);
    error TreeMustGrow(uint256 latest, uint256 proposed);
    error EmptyRoot();

    constructor() {
        operator = msg.sender;
    }

    function anchor(uint256 treeSize, bytes32 root) external {
        if (msg.sender != operator) revert NotOperator(msg.sender);
        if (treeSize <= latestTreeSize) revert TreeMustGrow(latestTreeSize, treeSize);
        if (root == bytes32(0)) revert EmptyRoot();
        latestTreeSize = treeSize;
        latestRoot = root;
        rootAt[treeSize] = root;
        emit Anchored(treeSize, root, block.timestamp);
    }
}
