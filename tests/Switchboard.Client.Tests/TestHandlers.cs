using Switchboard.Api;
using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Client.Tests;

/// <summary>An app's RPC method: echoes its data with the caller's user id.</summary>
internal sealed class EchoRpcHandler : IRpcHandler
{
    public string Method => "echo";

    public ValueTask<RawJson> HandleAsync(RpcContext context, CancellationToken cancellationToken)
        => ValueTask.FromResult(RawJson.Parse($"{{\"user\":\"{context.Client.User}\",\"data\":{(context.Data.IsEmpty ? "null" : context.Data.ToString())}}}"));
}

/// <summary>An app that answers every <c>send</c> with a <c>message</c> push to the same connection.</summary>
internal sealed class ReplyingSendHandler(ServerApi api) : ISendHandler
{
    public async ValueTask HandleAsync(SendContext context, CancellationToken cancellationToken)
        => await api.SendAsync(new SendApiRequest { Client = context.Client.ClientId, Data = RawJson.Parse($"{{\"got\":{context.Data}}}") }, cancellationToken);
}
