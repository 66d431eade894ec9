using Switchboard.Protocol;

namespace Switchboard.Sessions;

/// <summary>What an extension point sees of the calling client.</summary>
/// <param name="ClientId">The connection id.</param>
/// <param name="User">The user id; empty for anonymous.</param>
/// <param name="ConnInfo">Connection info from the token.</param>
/// <param name="Transport">The transport name.</param>
public sealed record ClientContext(string ClientId, string User, RawJson ConnInfo, string Transport);

/// <summary>An RPC call from a client.</summary>
/// <param name="Method">The method name the client called.</param>
/// <param name="Data">The call's payload.</param>
/// <param name="Client">The calling client.</param>
public sealed record RpcContext(string Method, RawJson Data, ClientContext Client);

/// <summary>An asynchronous message (<c>send</c>) from a client.</summary>
/// <param name="Data">The payload.</param>
/// <param name="Client">The sending client.</param>
public sealed record SendContext(RawJson Data, ClientContext Client);

/// <summary>
/// Answers client <c>rpc</c> calls for one method. Apps register implementations in DI; a call
/// to a method no handler claims answers error 104. Throw <see cref="ProtocolException"/> to
/// answer with an error code.
/// </summary>
public interface IRpcHandler
{
    /// <summary>The method this handler answers.</summary>
    string Method { get; }

    /// <summary>Handles one call and returns the result data.</summary>
    ValueTask<RawJson> HandleAsync(RpcContext context, CancellationToken cancellationToken);
}

/// <summary>Receives client <c>send</c> messages (which get no reply). Apps register implementations in DI.</summary>
public interface ISendHandler
{
    /// <summary>Handles one message.</summary>
    ValueTask HandleAsync(SendContext context, CancellationToken cancellationToken);
}
